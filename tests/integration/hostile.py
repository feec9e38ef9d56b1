"""The hostile mix of the stream probes (issues 17 and 28): ordinary records with planted values,
interleaved with records built to break, stall or slip through a stream."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import orjson

ZWSP, ZWJ, SOFT_HYPHEN, RLO = "\u200b", "\u200d", "\u00ad", "\u202e"


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def doc(**fields) -> bytes:
    return orjson.dumps(fields)


@dataclass
class Mix:
    docs: list[bytes] = field(default_factory=list)
    logs: list[bytes] = field(default_factory=list)
    #: values that must not be readable anywhere Veil writes for others
    planted: set[str] = field(default_factory=set)

    def plant(self, value: str) -> str:
        self.planted.add(value)
        return value


def interleave(hostile: list[bytes], ordinary: list[bytes]) -> list[bytes]:
    """Each hostile record followed by its share of ordinary ones."""
    n = len(ordinary) // len(hostile)
    out = [r for i, h in enumerate(hostile) for r in (h, *ordinary[i * n:(i + 1) * n])]
    return out + ordinary[len(hostile) * n:]


def hostile_mix(*, ordinary: int = 100, big: bool = True, extended: bool = True) -> Mix:
    """Hostile records each followed by ordinary ones. ``big``: with the multi-megabyte ones and the
    30,000 addresses; ``extended``: with the records the probe of issue 28 added (odd shapes,
    key-shaped values, marks and ignorable characters inside numbers)."""
    m = Mix()
    p = m.plant
    hostile_docs: list[bytes] = [
        *([doc(id="big-5mb", text="reach me at " + p("five.mb@example.org") + " " + "lorem ipsum " * 440_000),
           doc(id="thirty-k", text=" ".join(f"u{i}@ex.io" for i in range(30_000)))] if big else []),  # ~360 KB
        b'{"id": "broken", "text": "mail ' + p("json.broken@example.org").encode() + b'"',
        b'{"id": "latin1", "text": "caf\xe9 ' + p("utf8.bad@example.org").encode() + b'"}',
        b'{"id": "nul", "text": "mail ' + p("nul.byte@example.org").encode() + b'\x00 end"}',  # a raw NUL byte
        doc(id="escaped-nul", text="mail " + p("escaped.nul@example.org") + "\x00 end"),  # valid JSON: "\u0000"
        b'{"id": "deep", "text": "x", "metadata": ' + b'{"a": ' * 3000 + b'"1"' + b"}" * 3000 + b"}",
        doc(id="key-is-a-value", text="hello", **{p("key.value@example.org"): "1"}),
        # the same id twice, different content: two documents, neither replaces the other
        doc(id="same-id", text="first version, mail " + p("first.version@example.org")),
        doc(id="same-id", text="second version, mail " + p("second.version@example.org")),
        # values beside the text
        doc(id="card " + p("4111 1111 1111 1111"), text="nothing in the text", source=p("ana.source@example.org"),
            metadata={"owner": p("meta.owner@example.org"), p("meta.key@example.org"): "x", "team": "billing"}),
        # values hidden with invisible, fullwidth and combining characters
        doc(id="zwsp-mail", text="write to " + p("hidden" + ZWSP + ".mail@example.org") + " today"),
        doc(id="zwj-aws", text="key=" + p("AKIA" + ZWJ + "IOSFODNN7EXAMPLE") + " in config"),
        doc(id="shy-mail", text="mail " + p("soft" + SOFT_HYPHEN + "hyphen@example.org")),
        doc(id="fullwidth-card", text="card " + p(fullwidth("4111111111111111")) + " on file"),
        doc(id="combining-mail", text="mail " + p(unicodedata.normalize("NFD", "josé.müller@example.org"))),
    ]
    if extended:
        hostile_docs += [
            doc(id=p("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), text="a bare secret key as the id"),
            doc(id="meta-secret", text="x", metadata={"k": p("bPxRfiCYEXAMPLEKEYwJalrXUtnFEMI/K7MDENGa")}),
            doc(id="shy-phone", text="call " + p("+44 20 79" + SOFT_HYPHEN + "46 0958") + " today"),
            doc(id="keycap-phone", text="call " + p("+49 30 9\u20e301820") + " today"),
            doc(id="cgj-phone", text="call " + p("(415) 555-\u034f0132") + " now"),
            doc(id="bidi", text="mail " + RLO + "gro.elpmaxe@" + " " + p("bidi.user@example.org")),
            doc(id="many-keys", text="profile of " + p("keys.user@example.org"),
                metadata={f"field{i}": f"value {i}" for i in range(1500)}),
            doc(id="newlines", text="\n" * 10_000 + "mail " + p("after.newlines@example.org")),
            doc(id="x" * 257, text="an id over the limit"),
            doc(id="long-source", text="a source over the limit", source="s" * 300),
            doc(id="line\nbreak", text="an id with a newline, mail " + p("newline.id@example.org")),
            b'{"id": "surrogate", "text": "lone \\ud800 surrogate, mail ' + p("surrogate@example.org").encode() + b'"}',
            b'{"id": "dup", "text": "first", "text": "second, mail ' + p("dup.key@example.org").encode() + b'"}',
            doc(id="unknown-field", text="x", colour="red"),
            doc(id="wrong-type", text=42),
            doc(id="empty", text=""),
        ]
    hostile_logs: list[bytes] = [
        *([("GET /export user=" + p("big.line@example.org") + " " + "x" * 1_100_000).encode()] if big else []),
        b"\xff\xfe broken bytes " + p("log.bad@example.org").encode(),
        ("sshd: login from " + p("203.0.113.77") + "\x00").encode(),
    ]
    if extended:
        hostile_logs.append(("sshd[4242]: Accepted password for " + p("root.user@example.org")
                             + " from 198.51.100.23 port 22").encode())
    ordinary_docs = [doc(id=f"ok-{i}", text=f"ticket {i}: please call {p(f'ok{i}.user@example.org')} back",
                         source="support") for i in range(ordinary)]
    ordinary_logs = [f"{i} INFO session opened for {p(f'log{i}@example.org')} from 10.1.{i % 250}.{i % 200 + 1}".encode()
                     for i in range(ordinary)]
    m.docs, m.logs = interleave(hostile_docs, ordinary_docs), interleave(hostile_logs, ordinary_logs)
    return m


def fold(text: str) -> str:
    """What a reader sees: compatibility forms folded, invisible characters and marks dropped."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) not in ("Cf", "Mn", "Me"))
