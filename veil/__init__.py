"""Veil's redaction core: detectors, operators, policy and record-level redaction.

Pure Python: no Faust, Kafka or Ray imports, so the stream, the Ray actors and the batch CLI share it.

    >>> from veil import Redactor, Policy
    >>> r = Redactor(policy=Policy(), hmac_key=b"k")
    >>> t = "mail bob@example.com"
    >>> r.apply(t, r.triage(t, r.scan(t)).decided).text
    'mail <EMAIL_1>'
"""

from veil.policy import Policy
from veil.redactor import Redaction, Redactor, Triage

__all__ = ["Policy", "Redaction", "Redactor", "Triage"]
