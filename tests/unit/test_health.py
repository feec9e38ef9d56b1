"""/health's bookkeeping: parts, probes, and when failures in a row make a stage broken."""

from veil.errors import InvalidInput, ProviderUnavailable, SinkError
from veil.streams.health import Health
from veil.streams.stages import OutputTooLarge


def test_when_records_fail_now_and_then_the_stage_stays_up():
    h = Health(max_consecutive_failures=3)
    for _ in range(10):
        assert h.failed("analyze", ProviderUnavailable("x")) is False
        assert h.failed("analyze", ProviderUnavailable("x")) is False
        h.succeeded("analyze")
    status, body = h.report()
    assert status == 200 and body["parts"]["analyze"] == "ok" and h.fatal is None


def test_when_a_stage_fails_on_every_record_then_it_is_down_and_fatal():
    h = Health(max_consecutive_failures=3)
    assert [h.failed("decide", ConnectionError("boom")) for _ in range(3)] == [False, False, True]
    status, body = h.report()
    assert status == 503 and body["status"] == "down"
    assert body["parts"]["decide"].startswith("down: the decide stage failed on 3 records in a row (last: ConnectionError)")
    assert body["parts"]["analyze"] == "ok"


def test_probes_report_the_sink_and_the_security_model():
    state = {"sink": None}
    h = Health(probes={"sink": lambda: state["sink"], "security": lambda: None})
    assert h.report()[0] == 200
    state["sink"] = "stopped (ConnectionError)"
    status, body = h.report()
    assert status == 503 and body["parts"]["sink"] == "down: stopped (ConnectionError)"
    assert body["parts"]["security"] == "ok"


def test_records_dead_lettered_for_what_they_are_never_stop_a_worker():
    """Anyone who can write to an input topic must not be able to halt redaction: a record's own
    failure (invalid, too large, a detector tripping on it) is the stream working."""
    h = Health(max_consecutive_failures=3)
    own = [InvalidInput("bad json"), OutputTooLarge("too big"), ValueError("a detector's bug"), RecursionError()]
    for _ in range(100):
        for err in own:
            assert h.failed("decide", err) is False
    assert h.report()[0] == 200 and h.fatal is None and h.dead_lettered["decide"] == 400
    # and they do not hide a broken dependency, which still stops it after its failures in a row
    assert [h.failed("decide", SinkError("down")) for _ in range(3)] == [False, False, True]


def test_records_of_their_own_between_infrastructure_failures_do_not_hide_them():
    h = Health(max_consecutive_failures=3)
    assert h.failed("analyze", ProviderUnavailable("x")) is False
    assert h.failed("analyze", InvalidInput("x")) is False
    assert h.failed("analyze", ProviderUnavailable("x")) is False
    assert h.failed("analyze", InvalidInput("x")) is False
    assert h.failed("analyze", ProviderUnavailable("x")) is True
