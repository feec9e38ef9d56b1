"""Hosts and users that a log line's structure gives away.

A syslog header names the machine ("Jul  5 11:42:05 calvisitor-10-105-160-226 Mail[11203]: ..."),
an sshd message the account ("Invalid user deploy from ..."), a home directory its owner
("/home/germann2/..."), a proxy log the proxy ("... open through proxy proxy.example.edu:5070").
No pattern for "a host name" in general could tell these from words; the field they stand in can.
A value found in such a field is that host or user wherever else the line writes it ("bn647
Nov 9 12:09:16 bn647/bn647 ntpd[30260]: ..."), and a host stays known: :class:`KnownHostsDetector`
finds it on later lines that name it outside any field ("failed to resolve data source name bn14
bn15 ...", "chrome.exe - proxy.example.edu:5070 close"). The memory is bounded (the oldest host
is forgotten first) and holds host names only, never users or text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from veil.detectors import prefilter
from veil.detectors.protocol import ONE_AT_A_TIME
from veil.schemas import Category, Finding, trusted

_HOST_SCORE = _USER_SCORE = 0.85
_NAME = r"[A-Za-z0-9][\w.-]{0,62}"


class _Rule(NamedTuple):
    """A field of a log format: the value is group ``v`` (a second value of the same entity: ``w``).
    ``named``: the field is named for what it holds (JSON, logfmt, Windows events), so its value
    may be a public site rather than a machine of one's own."""

    entity: str
    rx: re.Pattern[str]
    named: bool = False


_RULES: tuple[_Rule, ...] = tuple(_Rule(*r) for r in (
    # BSD syslog (RFC 3164) header, and a wrapped one as in cluster archives ("- 1131566956
    # 2005.11.09 bn647 Nov 9 12:09:16 bn647/bn647 ntpd[30260]: ..."): the host after the time, then
    # the program and an optional pid before a colon; a facility ("local@") or a second copy
    # ("bn647/bn647") may stand with it
    ("INTERNAL_HOSTNAME", re.compile(
        rf"(?<!\S)(?=[<A-Z])(?:<\d{{1,3}}>)?[A-Z][a-z]{{2}} {{1,2}}\d{{1,2}} \d\d:\d\d:\d\d (?:\w+@)?(?P<v>{_NAME})"
        rf"(?:/(?P<w>{_NAME}))? (?=(?:\S+ ){{0,2}}\S*:(?:\s|$))")),
    # RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME ...
    ("INTERNAL_HOSTNAME", re.compile(rf"^<\d{{1,3}}>\d{{1,2}} \S+ (?P<v>{_NAME}) \S+")),
    # a proxy client's log: "... open through proxy proxy.example.edu:5070 HTTPS"
    ("INTERNAL_HOSTNAME", re.compile(rf"\bthrough proxy (?P<v>{_NAME}\.[A-Za-z]{{2,}})(?::\d+)?")),
    # cluster node names: "node-178", "compute-12" (a list of a thousand "cn12 cn13 ..." is an
    # inventory, and "worker-3" as often a process as a machine)
    ("INTERNAL_HOSTNAME", re.compile(r"(?<![\w.-])(?P<v>(?:node|compute)-\d{1,5})(?![\w.-])")),
    # home directories: "/home/germann2/...", "/Users/ana/Library", "C:\Users\ana\AppData"
    ("USERNAME", re.compile(
        r"(?:(?<![\w.])/(?:home|Users|export/home|var/home)/|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\)"
        r"(?P<v>[A-Za-z0-9][\w.-]{0,31})(?=[/\\\"'\s):;,]|$)")),
    # sshd and PAM: "Accepted password for ana from", "Invalid user deploy from", "session opened for
    # user ana", "user=ana", "ruser=ana"
    ("USERNAME", re.compile(
        r"(?:\b(?:Accepted|Failed) \S+ for (?:invalid user )?|\b[Ii]nvalid user |\bsession (?:opened|closed) for user "
        r"|(?<![\w-])(?:r?user|USER|logname)=)(?P<v>[A-Za-z0-9_][\w.@-]{0,31})(?=[\s;,)(]|$)")),
    # Apache/Nginx combined log: client, ident, user, [time]
    ("USERNAME", re.compile(r"^\S+ \S+ (?P<v>[A-Za-z0-9_][^\s\[\]]{0,31}) \[\d\d/[A-Z][a-z]{2}/\d{4}:")),
    # JSON and logfmt fields named for a machine or an account: "hostname":"web-eu-3", node=ip-10-0-3-7,
    # "username": "ana.b"; Windows events: "Account Name:  jsmith", "Workstation Name: WS-0042"
    ("INTERNAL_HOSTNAME", re.compile(
        r"(?i)(?<![\w-])\"?(?:host|hostname|host_name|server_name|node|nodename|node_name|machine|computer|computername"
        r"|workstation)\"?[ \t]*[:=][ \t]*\"?(?P<v>[A-Za-z][\w.-]{1,62})(?=[\"\s,;}]|$)"), True),
    ("INTERNAL_HOSTNAME", re.compile(r"(?i)\b(?:workstation name|computer name|source workstation)[ \t]*:[ \t]*(?P<v>[A-Za-z][\w.-]{1,62})"), True),
    ("USERNAME", re.compile(
        r"(?i)(?<![\w-])\"(?:user|username|user_name|login|account|account_name|principal)\"[ \t]*:[ \t]*"
        r"\"(?P<v>[A-Za-z0-9_][\w.-]{0,31})\"|(?<![\w-])(?:username|login|account)=(?P<w>[A-Za-z0-9_][\w.-]{0,31})(?=[\s,;]|$)")),
    ("USERNAME", re.compile(r"(?i)\b(?:account name|user name)[ \t]*:[ \t]*(?P<v>[A-Za-z0-9_][\w.$-]{0,31})")),
))
#: Public top-level domains: a host field that names a public site names no internal machine.
_PUBLIC_TLD = re.compile(r"(?i)\.(?:com|net|org|io|dev|app|co|edu|gov|info|biz|cloud|ai|me|us|uk|de|fr|es|it|nl|eu|jp|cn|ru|br|in)$")
#: Words in a host's or user's place that name no one and nothing: log levels, system accounts,
#: shared home folders.
_NOT_VALUES = frozenset({
    "info", "warn", "warning", "error", "err", "debug", "trace", "notice", "crit", "critical", "alert", "emerg",
    "fatal", "localhost", "root", "nobody", "unknown", "invalid", "shared", "public", "default", "guest", "all",
    "system", "daemon", "admin", "administrator", "user", "users", "anonymous", "null", "none", "true", "false",
    "local", "service", "network", "localsystem", "anonymous logon", "str", "string", "int", "integer", "bool",
    "boolean", "float", "bytes", "any", "optional", "list", "dict", "object", "text", "varchar", "required"})
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_VERSION = re.compile(r"[vV]?\d+(?:\.\d+)+")  # "node: v18.2" names a runtime


class KnownHosts:
    """Host names seen in a host field, most recent last; at most ``max_entries``. ``may_hold(text)``
    is a cheap first check: one RE2 pass for all hosts (rebuilt now and then) plus a substring test
    for the few learned since."""

    def __init__(self, max_entries: int = 50_000, *, rebuild_after: int = 64, regex_limit: int = 5_000) -> None:
        self.max_entries = max_entries
        self._hosts: dict[str, None] = {}
        self._pending: set[str] = set()  # learned since the regex was built
        self._regex = None
        self._rebuild_after, self._regex_limit = rebuild_after, regex_limit

    def add(self, host: str) -> None:
        if host in self._hosts:
            return
        self._hosts[host] = None
        self._pending.add(host)
        if len(self._hosts) > self.max_entries:
            oldest = next(iter(self._hosts))
            del self._hosts[oldest]
            self._pending.discard(oldest)  # the regex may still name it: the exact check below decides

    def may_hold(self, text: str) -> bool:
        if not self._hosts:
            return False
        if len(self._hosts) > self._regex_limit:
            return True  # too many for one pattern: every line takes the exact check
        if len(self._pending) > self._rebuild_after:
            self._regex = prefilter.compile_fast("|".join(re.escape(h) for h in self._hosts))
            self._pending.clear()
        return any(h in text for h in self._pending) or (self._regex is not None and self._regex.search(text) is not None)

    def among(self, tokens: set[str]) -> set[str]:
        return tokens & self._hosts.keys()

    def __len__(self) -> int:
        return len(self._hosts)


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def whole_tokens(text: str, value: str) -> list[tuple[int, int]]:
    """Where ``value`` stands in ``text`` as a whole token: no word character, dot or dash just
    before, and no word character, dash or dot-and-word-character just after ("bn647" in
    "bn647/bn647" and "bn647.", not in "bn6470", "x-bn647" or "bn647.example.org"). A plain
    ``str.find`` scan: a stream names new hosts and users all the time, and a pattern per value
    cost a compile each."""
    spans: list[tuple[int, int]] = []
    n, size = len(text), len(value)
    i = text.find(value)
    while i >= 0:
        j = i + size
        before = text[i - 1] if i else ""
        after = text[j] if j < n else ""
        if not (before and (_word_char(before) or before in ".-")) and not (after and (
                _word_char(after) or after == "-" or (after == "." and j + 1 < n and _word_char(text[j + 1])))):
            spans.append((i, j))
            i = text.find(value, j)
        else:
            i = text.find(value, i + 1)
    return spans


def _found(text: str, values: dict[str, str], detector: str, reason: str) -> list[Finding]:
    """Every whole-token occurrence of each value in ``text``."""
    out: list[Finding] = []
    for value, entity in values.items():
        host = entity == "INTERNAL_HOSTNAME"
        for start, end in whole_tokens(text, value):
            out.append(trusted(Finding, start=start, end=end, entity=entity,
                               category=Category.INFRA if host else Category.PII, detector=detector,
                               score=_HOST_SCORE if host else _USER_SCORE, reason=reason))
    return out


class LogFieldsDetector:
    """Hosts and users in the fields of common log formats; see the module's docstring. Hosts it
    finds go to ``known`` (when given) for :class:`KnownHostsDetector`."""

    name = "logfields"
    entities = frozenset({"INTERNAL_HOSTNAME", "USERNAME"})
    screen = tuple(rule.rx.pattern for rule in _RULES)
    reading = ONE_AT_A_TIME

    def __init__(self, known: KnownHosts | None = None) -> None:
        self.known = known

    def detect(self, text: str) -> list[Finding]:
        hits = [i for i, rule in enumerate(_RULES) if rule.rx.search(text)]
        return self.detect_screened(text, hits) if hits else []

    def detect_screened(self, text: str, hits: Sequence[int]) -> list[Finding]:
        values: dict[str, str] = {}
        for i in hits:
            entity, rx, named = _RULES[i]
            for m in rx.finditer(text):
                for group in ("v", "w"):
                    value = m.groupdict().get(group)
                    # a field named "host" may hold a public site ("api.stripe.com"): no internal machine
                    if value and self._plausible(value) and not (named and _PUBLIC_TLD.search(value)):
                        values.setdefault(value, entity)
        if self.known is not None:
            for value, entity in values.items():
                if entity == "INTERNAL_HOSTNAME":
                    self.known.add(value)
        return _found(text, values, self.name, "a host or user field of a log line")

    @staticmethod
    def _plausible(value: str) -> bool:
        return len(value) >= 2 and value.lower().rstrip("$") not in _NOT_VALUES and not value.isdigit() \
            and not _IPV4.fullmatch(value) and not _VERSION.fullmatch(value)


_TOKEN = re.compile(r"[A-Za-z0-9][\w.-]*[A-Za-z0-9]")


class KnownHostsDetector:
    """Host names that a host field named earlier in the stream, wherever a line writes them."""

    name = "known-hosts"
    entities = frozenset({"INTERNAL_HOSTNAME"})
    screen = ()
    reading = ONE_AT_A_TIME

    def __init__(self, known: KnownHosts) -> None:
        self.known = known

    def detect(self, text: str) -> list[Finding]:
        if not self.known.may_hold(text):
            return []
        hosts = self.known.among(set(_TOKEN.findall(text)))
        if not hosts:
            return []
        return _found(text, dict.fromkeys(hosts, "INTERNAL_HOSTNAME"), self.name, "a host a log's host field named")


__all__ = ["KnownHosts", "KnownHostsDetector", "LogFieldsDetector"]
