from pathlib import Path

import pytest

from veil import Policy, Redactor
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.errors import ConfigError
from veil.operators import derive_siv_key, reveal

KEY = derive_siv_key("unit-test-secret")


def red(text: str, r: Redactor, source: str | None = None) -> str:
    tri = r.triage(text, r.scan(text), source=source)
    return r.redact_text(text, r.conclude(tri, {}), source=source).text


def test_when_encrypted_then_deterministic_and_revealed_only_with_the_key():
    r = Redactor(policy=Policy(default_operator="encrypt"), hmac_key=b"k", encryption_key=KEY)
    text = "from ana@example.com to ana@example.com"
    out = red(text, r)
    tokens = out.split()
    assert tokens[1] == tokens[3] and tokens[1].startswith("<ENC:EMAIL:") and "ana@" not in out
    assert reveal(out, KEY) == text
    with pytest.raises(ConfigError, match="wrong key"):
        reveal(out, derive_siv_key("another-secret"))


def test_when_token_type_is_changed_then_decryption_fails():
    r = Redactor(policy=Policy(default_operator="encrypt"), hmac_key=b"k", encryption_key=KEY)
    out = red("mail ana@example.com", r).replace("<ENC:EMAIL:", "<ENC:PHONE:")
    with pytest.raises(ConfigError):
        reveal(out, KEY)


def test_when_encrypt_without_key_then_clear_error_before_any_record():
    with pytest.raises(ConfigError, match="VEIL_ENCRYPTION_KEY"):
        Redactor(policy=Policy(default_operator="encrypt"), hmac_key=b"k")
    only_for_a_source = Policy(sources={"hr": {"entity_operators": {"EMAIL": "encrypt"}}})
    with pytest.raises(ConfigError, match="VEIL_ENCRYPTION_KEY"):
        Redactor(policy=only_for_a_source, hmac_key=b"k")


def test_when_an_operator_is_unknown_then_clear_error_before_any_record():
    with pytest.raises(ConfigError, match=r"unknown operator.*blur"):
        Redactor(policy=Policy(category_operators={"pii": "blur"}), hmac_key=b"k")


def test_when_an_entity_type_is_unknown_then_clear_error_before_any_record():
    with pytest.raises(ConfigError, match=r"unknown entity type.*EMIAL"):
        Redactor(policy=Policy(entity_operators={"EMIAL": "mask"}), hmac_key=b"k")
    with pytest.raises(ConfigError, match=r"unknown entity type.*PERSONS"):
        Redactor(policy=Policy(sources={"hr": {"entity_operators": {"PERSONS": "mask"}}}), hmac_key=b"k")
    # the NER model's, the analyst's and a detector's own declared types are known
    Redactor(policy=Policy(entity_operators={"PERSON": "mask", "PROJECT": "hmac", "EMAIL": "mask"}), hmac_key=b"k")

    class Tickets:
        name, entities, screen, reading = "tickets", frozenset({"TICKET_ID"}), (), ONE_AT_A_TIME

        def detect(self, text):
            return []

    Redactor(policy=Policy(entity_operators={"TICKET_ID": "mask"}), hmac_key=b"k", detectors=[Tickets()])


def test_when_value_on_deny_list_then_always_redacted():
    r = Redactor(policy=Policy(deny_values=frozenset({"Project Nightjar"})), hmac_key=b"k")
    assert red("status of Project Nightjar is green", r) == "status of <DENYLIST_1> is green"


def test_when_source_override_then_that_source_gets_its_operator_and_allow_list(tmp_path: Path):
    cfg = tmp_path / "policy.yaml"
    cfg.write_text(
        "default_operator: placeholder\n"
        "category_operators: {secret: drop}\n"
        "sources:\n"
        "  crm:\n"
        "    default_operator: hmac\n"
        "    allow_values: [support@example.com]\n"
    )
    policy = Policy.from_yaml(cfg)
    r = Redactor(policy=policy, hmac_key=b"k")
    text = "from support@example.com and bob@example.com password=hunter22x"
    assert red(text, r) == "from <EMAIL_1> and <EMAIL_2> password="
    crm = red(text, r, source="crm")
    assert crm.startswith("from support@example.com and <EMAIL:") and crm.endswith("password=")


def test_when_policy_yaml_has_unknown_key_then_rejected(tmp_path: Path):
    cfg = tmp_path / "policy.yaml"
    cfg.write_text("defualt_operator: mask\n")
    with pytest.raises(Exception, match="defualt_operator"):
        Policy.from_yaml(cfg)


def test_when_score_below_candidate_floor_then_ignored():
    r = Redactor(policy=Policy(), hmac_key=b"k")
    text = "upgraded to version 1.2.3.4"
    assert red(text, r) == text
