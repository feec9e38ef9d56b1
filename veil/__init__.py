"""Veil: redaction of personal data, secrets and internal infrastructure details.

    >>> import veil
    >>> veil.redact("mail ana@example.org from 10.0.0.7")
    'mail <EMAIL_1> from <IP_ADDRESS_1>'
    >>> engine = veil.Engine()  # reuse one for many texts: keys, detectors and caches load once
    >>> engine.redact_many(["user=bob@example.com", "db01.corp.internal refused 10.1.2.3"], log=True)
    ['user=<EMAIL_1>', '<INTERNAL_HOSTNAME_1> refused <IP_ADDRESS_1>']

``redact`` and :class:`Engine` run the pipeline ``veil redact`` runs, verification included. The
redaction core below them (detectors, policy, operators, ``Redactor``) is pure Python with no
Faust, Kafka or Ray import, so the stream, the Ray actors and the batch CLI share it.
"""

from veil.api import Engine, redact
from veil.policy import Policy
from veil.redactor import Redaction, Redactor, Triage

__all__ = ["Engine", "Policy", "Redaction", "Redactor", "Triage", "redact"]
