"""The layout tells a record's kind: e-mail headers, configuration keys, a log's timestamp, speaker turns."""

import pytest

from veil import textkind


@pytest.mark.parametrize("text, kind", [
    ("From: ana@example.org\nTo: billing@example.com\nSubject: refund\n\nPlease refund order 4471.", "email"),
    ("Von: jonas@example.ch\nBetreff: Rechnung\nAn: support@example.ch\n\nGuten Tag ...", "email"),
    ("Dear Ms Okafor,\nthe parcel left our depot today.\nKind regards\nThe shipping team", "email"),
    ("database:\n  host: 10.12.0.8\n  user: svc_orders\n  password: hunter2", "config"),
    ('{"service": "billing", "api_key": "zW3xY9qP0rT5uV8s"}', "config"),
    ("[smtp]\nhost = mail.corp.internal\nport = 587", "config"),
    ("DB_HOST=10.0.0.5\nDB_PASSWORD=s3cret\nDEBUG=false", "config"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "config"),
    ("2026-11-20T10:01:05Z WARN auth-svc login failed user=tom", "log"),
    ("Nov 20 10:47:10 node-42 sshd[880]: Accepted password for admin", "log"),
    ("ERROR payments charge failed card=4012", "log"),
    ('{"ts":"2026-11-20T10:02:21Z","level":"error","msg":"assume role failed"}', "log"),
    ("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs", "log"),
    ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error", "log"),
    ("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", "log"),
    ("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy", "log"),
    ("Imre: did the parcel arrive?\nAgent: not yet, let me check.\nImre: thanks", "chat"),
])
def test_a_layout_that_says_its_kind_is_recognised(text, kind):
    assert textkind.guess(text) == kind


@pytest.mark.parametrize("text", [
    "The court held that the applicant's right to a fair hearing had been violated.",
    "Customer Laura Jensen reports her card was charged twice. Please refund to the same card.",
    "Note: the meeting moved to Monday. Reason: the room was booked. We agreed to publish the roadmap.",
    "",
])
def test_prose_is_left_to_the_analyst(text):
    assert textkind.guess(text) is None
