from pathlib import Path

import pytest
from pydantic import ValidationError

from veil.settings import Settings


def test_when_env_set_then_nested_values_read(monkeypatch):
    monkeypatch.setenv("VEIL_KAFKA__PARTITIONS", "6")
    monkeypatch.setenv("VEIL_ELASTICSEARCH__PASSWORD", "pw-123")
    s = Settings.load()
    assert s.kafka.partitions == 6
    assert s.elasticsearch.password.get_secret_value() == "pw-123"
    assert "pw-123" not in repr(s)


def test_when_yaml_given_then_env_still_wins(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "veil.yaml"
    cfg.write_text("kafka:\n  partitions: 3\n  topic_prefix: acme\nmodels:\n  security: smollm2-135m\n")
    monkeypatch.setenv("VEIL_KAFKA__PARTITIONS", "5")
    s = Settings.load(cfg)
    assert (s.kafka.partitions, s.kafka.topic_prefix, s.models.security) == (5, "acme", "smollm2-135m")
    assert s.topic("docs.in") == "acme.docs.in"


def test_when_unknown_key_then_rejected(tmp_path: Path):
    cfg = tmp_path / "veil.yaml"
    cfg.write_text("kafka:\n  partitons: 3\n")
    with pytest.raises(ValidationError):
        Settings.load(cfg)


def test_dev_hmac_key_is_flagged():
    assert Settings().uses_dev_hmac_key
    assert not Settings(hmac_key="real-key").uses_dev_hmac_key


def test_the_state_folder_is_made_owner_only(tmp_path):
    import stat

    from veil.composition import private_dir

    loose = tmp_path / "state"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    assert private_dir(loose) == loose.resolve()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    fresh = private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
