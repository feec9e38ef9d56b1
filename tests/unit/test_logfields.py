"""Hosts and users from the fields of log formats, and hosts remembered across lines."""

from veil.detectors import scan
from veil.detectors.logfields import KnownHosts, KnownHostsDetector, LogFieldsDetector


def fresh():
    fields = LogFieldsDetector(KnownHosts())
    return fields, KnownHostsDetector(fields.known)


def values(text, detectors):
    return [(f.entity, text[f.start:f.end]) for f in scan(text, detectors)]


def test_a_host_named_in_a_header_is_found_wherever_the_line_writes_it():
    fields, known = fresh()
    line = "- 1131567085 2005.11.09 tbird-adm7 Nov 9 12:11:25 local@tbird-adm7 gmetad[1682]: data_thread() got"
    assert values(line, [fields, known]) == [("INTERNAL_HOSTNAME", "tbird-adm7")] * 2


def test_a_known_host_is_found_on_later_lines_outside_any_field():
    fields, known = fresh()
    later = "gmetad: Warning: we failed to resolve data source name cn412 cn413 cn414"
    assert values(later, [fields, known]) == []  # nothing named cn412 a host yet
    values("- 1131566956 2005.11.09 cn412 Nov 9 12:09:16 cn412/cn412 ntpd[30260]: synchronized", [fields, known])
    assert values(later, [fields, known]) == [("INTERNAL_HOSTNAME", "cn412")]
    proxy = "[10.30 16:49:06] app.exe - gw7.uni.example.edu:5070 close, 1293 bytes sent"
    values("[10.30 16:49:05] app.exe - a.example.net:443 open through proxy gw7.uni.example.edu:5070 HTTPS", [fields, known])
    assert values(proxy, [fields, known]) == [("INTERNAL_HOSTNAME", "gw7.uni.example.edu")]


def test_users_are_never_remembered_and_the_memory_is_bounded():
    fields, known = fresh()
    values("Dec 10 06:55:46 jump2 sshd[24200]: Invalid user mkowalski from 203.0.113.9", [fields, known])
    assert values("mkowalski wrote the report", [fields, known]) == []
    memory = KnownHosts(max_entries=2)
    for host in ("h-1", "h-2", "h-3"):
        memory.add(host)
    assert len(memory) == 2 and memory.among({"h-1", "h-2", "h-3"}) == {"h-2", "h-3"}


def test_the_first_check_finds_every_known_host_before_and_after_its_pattern_is_rebuilt():
    memory = KnownHosts(max_entries=1000, rebuild_after=4, regex_limit=50)
    hosts = [f"cn{k}" for k in range(30)]
    for k, host in enumerate(hosts):
        memory.add(host)
        assert all(memory.may_hold(f"resolve {h} failed") for h in hosts[: k + 1])
    assert not memory.may_hold("resolve db-7 failed")
    for k in range(60):  # past the pattern's limit every line takes the exact check
        memory.add(f"h-{k}")
    assert memory.may_hold("no host here") and memory.among({"h-59", "x"}) == {"h-59"}


def test_whole_tokens_agrees_with_the_boundary_pattern_it_replaces():
    """The ``str.find`` scan finds exactly what ``(?<![\\w.-])VALUE(?![\\w-]|\\.\\w)`` finds."""
    import random
    import re

    from veil.detectors.logfields import whole_tokens

    rng = random.Random(7)
    for _ in range(20_000):
        value = "".join(rng.choice("ab1") for _ in range(rng.randint(1, 3)))
        text = "".join(rng.choice("ab.-_ /1é") for _ in range(rng.randint(0, 14)))
        expected = [m.span() for m in re.finditer(rf"(?<![\w.-]){re.escape(value)}(?![\w-]|\.\w)", text)]
        assert whole_tokens(text, value) == expected, (text, value)
    assert whole_tokens("bn647 Nov 9 bn647/bn647 ntpd: bn647.", "bn647") == [(0, 5), (12, 17), (18, 23), (30, 35)]
    assert whole_tokens("bn6470 x-bn647 bn647.example.org", "bn647") == []
