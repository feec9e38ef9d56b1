"""The pii and anonymize profiles: what each redacts at all."""

import pytest

from veil import Policy, Redactor
from veil.errors import ConfigError
from veil.schemas import Category, Finding


def found(text: str, value: str, entity: str) -> Finding:
    start = text.index(value)
    return Finding(start=start, end=start + len(value), entity=entity, category=Category.PII, detector="ner", score=0.6)


TEXT = ("The Court of Appeal heard Ana Lindqvist, an engineer at Nordvik Metals, of Porto.\n"
        "The Ministry of Justice replied from Madrid.")
CANDIDATES = [found(TEXT, "Court of Appeal", "ORGANIZATION"), found(TEXT, "Ana Lindqvist", "PERSON"),
              found(TEXT, "Nordvik Metals", "ORGANIZATION"), found(TEXT, "Porto", "LOCATION"),
              found(TEXT, "Madrid", "LOCATION"),
              found(TEXT, "Ministry of Justice", "ORGANIZATION")]


def kept(profile: str) -> set[str]:
    return {TEXT[c.start:c.end] for c in Policy(profile=profile).select(TEXT, CANDIDATES)}


def test_under_pii_institutions_and_places_alone_are_not_candidates_but_an_employer_or_home_town_is():
    assert kept("pii") == {"Ana Lindqvist", "Nordvik Metals", "Porto"}


def test_under_anonymize_every_organisation_and_place_is_a_candidate():
    assert kept("anonymize") == {"Court of Appeal", "Ana Lindqvist", "Nordvik Metals", "Porto", "Madrid",
                                 "Ministry of Justice"}


def test_a_place_that_reads_as_a_persons_name_stays_under_pii():
    text = "Report by Lindqvist Halvorsen."
    assert Policy().select(text, [found(text, "Lindqvist Halvorsen", "LOCATION")])  # the model mistook a name


@pytest.mark.parametrize("text, value, entity", [
    ("Paciente de 45 años que ingresa el 12/03/2019.", "45 años", "AGE"),
    ("Paciente de 45 años que ingresa el 12/03/2019.", "12/03/2019", "DATE"),
    ("seen on 5 de mayo de 2018 in clinic", "5 de mayo de 2018", "DATE"),
    ("a 67-year-old man", "67-year-old", "AGE"),
    ("Edad: 71", "71", "AGE"),
])
def test_dates_and_ages_are_redacted_under_anonymize_only(text, value, entity):
    anonymize = Redactor(policy=Policy(profile="anonymize"), hmac_key=b"k")
    pii = Redactor(policy=Policy(), hmac_key=b"k")
    assert any(text[f.start:f.end] == value and f.entity == entity for f in anonymize.scan(text))
    assert not any(f.entity in ("DATE", "AGE") for f in pii.scan(text))


def test_an_unknown_profile_is_refused():
    with pytest.raises(ValueError):
        Policy(profile="gdpr-max")


def test_the_cli_profile_option_is_checked(tmp_path):
    from veil.ops.cli_batch import _engine
    from veil.settings import Settings

    with pytest.raises(ConfigError, match="unknown profile"):
        _engine(Settings(models={"ner": ""}), no_llm=True, policy_file=None, profile="strict")
    assert _engine(Settings(models={"ner": ""}), no_llm=True, policy_file=None,
                   profile="anonymize").redactor.policy.profile == "anonymize"
