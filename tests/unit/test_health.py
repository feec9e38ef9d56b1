"""/health's bookkeeping: parts, probes, and when failures in a row make a stage broken."""

from veil.streams.health import Health


def test_when_records_fail_now_and_then_the_stage_stays_up():
    h = Health(max_consecutive_failures=3)
    for _ in range(10):
        assert h.failed("analyze", ValueError("x")) is False
        assert h.failed("analyze", ValueError("x")) is False
        h.succeeded("analyze")
    status, body = h.report()
    assert status == 200 and body["parts"]["analyze"] == "ok" and h.fatal is None


def test_when_a_stage_fails_on_every_record_then_it_is_down_and_fatal():
    h = Health(max_consecutive_failures=3)
    assert [h.failed("decide", RuntimeError("boom")) for _ in range(3)] == [False, False, True]
    status, body = h.report()
    assert status == 503 and body["status"] == "down"
    assert body["parts"]["decide"].startswith("down: the decide stage failed on 3 records in a row (last: RuntimeError)")
    assert body["parts"]["analyze"] == "ok"


def test_probes_report_the_sink_and_the_security_model():
    state = {"sink": None}
    h = Health(probes={"sink": lambda: state["sink"], "security": lambda: None})
    assert h.report()[0] == 200
    state["sink"] = "stopped (ConnectionError)"
    status, body = h.report()
    assert status == 503 and body["parts"]["sink"] == "down: stopped (ConnectionError)"
    assert body["parts"]["security"] == "ok"
