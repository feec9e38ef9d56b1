"""What kind of text a record is, from its layout: an e-mail's header lines, a configuration
file's keys, a log line's timestamp, a chat's speaker turns.

The general analyst also reports a kind, but a small model reads layout badly (it calls most
things "log"); these signatures are cheap and right when they fire. When none fires the analyst's
answer stands.
"""

from __future__ import annotations

import re

_EMAIL_HEADER = re.compile(r"(?im)^(?:from|to|cc|bcc|subject|date|reply-to|sent|von|an|betreff|de|para|asunto|objet)"
                           r"\s*:\s*\S")
_GREETING = re.compile(r"(?i)^(?:dear|hi|hello|hola|estimad[oa]|bonjour|hallo|liebe[rs]?|gentile|caro|cara)\b[^\n]{0,60},?\s*$",
                       re.MULTILINE)
_SIGN_OFF = re.compile(r"(?im)^(?:regards|best(?: regards)?|kind regards|thanks|cheers|sincerely|saludos|cordialement"
                       r"|mit freundlichen grüßen|viele grüße|cordiali saluti)\b")
_YAML_KEY = re.compile(r"(?m)^\s*(?:- )?[\w.-]+:(?:\s|$)")
_INI_SECTION = re.compile(r"(?m)^\[[\w .:-]+\]\s*$")
_ASSIGNMENT = re.compile(r"(?m)^\s*[\w.-]+\s*=\s*\S")
_JSON_OBJECT = re.compile(r'^\s*[\[{]\s*"[\w.-]+"\s*:')
_TIMESTAMP = re.compile(r"^\s*(?:-\s+)?(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}/\w{3}/\d{4}:|\w{3}\s+\d{1,2} \d{2}:\d{2}:\d{2}"
                        r"|\d{2}:\d{2}:\d{2}[.,]\d{3}|\d{10}(?:\.\d+)?\s|\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
                        r"|\d{8}-\d{1,2}:\d{1,2}:\d{1,2}|\[\d{2}\.\d{2} \d{2}:\d{2}:\d{2}\]|\d{4}[./]\d{2}[./]\d{2}[ T-]\d{2}[:.]\d{2})")
_JSON_LOG = re.compile(r'^\s*\{\s*"(?:ts|time|timestamp|@timestamp|level|severity|msg|message)"\s*:')
_LEVEL = re.compile(r"\b(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRIT|CRITICAL)\b")
_TURN = re.compile(r"(?m)^[ \t]*[A-Z][\w .'-]{0,30}:[ \t]+\S")
_SENTENCE = re.compile(r"[a-z]{2,}[.!?](?:\s|$)")


def guess(text: str) -> str | None:
    """``email``, ``config``, ``log`` or ``chat`` when the layout says so, else None."""
    head = text[:3000]
    lines = [line for line in head.splitlines() if line.strip()]
    if not lines:
        return None
    if len(_EMAIL_HEADER.findall(head)) >= 2 or (_GREETING.search(head) and _SIGN_OFF.search(head)):
        return "email"
    if len(lines) == 1 and _JSON_LOG.match(head):
        return "log"  # a structured log line: {"ts": ..., "level": ..., "msg": ...}
    if _JSON_OBJECT.match(head) or _INI_SECTION.search(head) or "-----BEGIN " in head:
        return "config"
    keyed = sum(1 for line in lines if _YAML_KEY.match(line) or _ASSIGNMENT.match(line))
    if len(lines) >= 2 and keyed >= 0.6 * len(lines) and len(_SENTENCE.findall(head)) <= len(lines) // 3:
        return "config"
    if _TIMESTAMP.match(lines[0]) or (len(lines) == 1 and _LEVEL.search(lines[0]) and len(lines[0]) < 400):
        return "log"
    if len(lines) >= 2 and len(_TURN.findall(head)) >= max(2, len(lines) // 2):
        return "chat"
    return None


__all__ = ["guess"]
