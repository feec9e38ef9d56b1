"""Log templates: mining, the alignment of a line with its template, and the judge's view of it."""

import re

from drain3.drain import Drain
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.evaluation.logs import typical_lines
from veil.templates import _MASKS, WILDCARD, TemplateMiner, view_of


def test_lines_of_one_kind_share_a_template_with_their_differences_as_wildcards():
    m = TemplateMiner()
    m.mine("login ok user=alice from 10.0.0.7 port 51122")
    t = m.mine("login ok user=bob from 10.0.0.9 port 40022")
    assert t.template == "login ok <*> from <IP> port <NUM>"
    assert m.mine("login ok user=carol from 10.1.2.3 port 1").template == t.template
    assert m.mine("disk full on /var").template == "disk full on /var"
    assert m.templates == 2


def test_remembered_lines_get_the_template_drain_gives_them():
    """The miner answers a masked line it has seen from memory; Drain itself must agree, line by
    line, including templates that were widened after the line was first seen."""
    miner, drain = TemplateMiner(), Drain(depth=4, sim_th=0.4, max_children=100, max_clusters=10_000, param_str=WILDCARD)
    lines = typical_lines(3000, seed=11)
    for line in lines:
        mined = miner.mine(line)
        cluster, _ = drain.add_log_message(mined._masked)
        assert mined.template == " ".join(cluster.log_template_tokens), line
    assert len(miner._seen) < len(lines) // 2  # masked lines do recur, so memory is exercised


def test_masks_skip_positions_without_trying_every_alternative_yet_match_the_same():
    plain = re.compile(_MASKS.pattern.removeprefix(r"(?=[\da-fA-F])(?:").removesuffix(")"))
    assert plain.pattern != _MASKS.pattern
    texts = [*typical_lines(2000, seed=3), "id deadbeef-dead-beef-dead-beefdeadbeef x", "٣٤ items", "v1.2 at 0xff1234567890ab"]
    for text in texts:
        assert [(m.span(), m.lastgroup) for m in _MASKS.finditer(text)] == \
               [(m.span(), m.lastgroup) for m in plain.finditer(text)], text


def test_variable_parts_are_the_line_values_behind_the_placeholders():
    m = TemplateMiner()
    m.mine("job sync-7 done in 12ms for alice")
    line = "job sync-9 done in 1300ms for bob"
    t = m.mine(line)
    parts = [(line[v.start:v.end], v.placeholder) for v in t.variables]
    assert parts == [("9", "<NUM>"), ("1300", "<NUM>"), ("bob", "<*>")]


def test_template_spans_map_onto_the_line():
    m = TemplateMiner()
    m.mine("2026-11-20T10:01:02Z ERROR db-prod-7 refused user=alice")
    line = "2026-11-20T10:01:09Z ERROR db-prod-7 refused user=bob"
    t = m.mine(line)
    tpl = t.template
    host = tpl.index("db-prod-")
    start, end = t.to_line(host, host + len("db-prod-<NUM>"))
    assert line[start:end] == "db-prod-7"  # constant text, then a masked number
    star = tpl.index("<*>")
    start, end = t.to_line(star, star + 3)
    assert line[start:end] == "user=bob"  # a placeholder covers the whole value
    assert t.to_line(len(tpl), len(tpl)) is None


def test_the_view_masks_every_variable_part_and_maps_spans_onto_placeholders():
    m = TemplateMiner()
    m.mine("GET /orders/17 from 10.0.0.7 as alice")
    line = "GET /orders/99 from  10.0.0.9 as bob"
    t = m.mine(line)
    view = t.view()
    assert view.text == "GET /orders/<NUM> from  <IP> as <*>"
    who = line.index("bob")
    assert view.text[slice(*view.span(who, who + 3))] == "<*>"
    get = line.index("GET")
    assert view.text[slice(*view.span(get, get + 3))] == "GET"
    path = line.index("/orders/99")
    assert view.text[slice(*view.span(path, path + len("/orders/99")))] == "/orders/<NUM>"
    ip = line.index("10.0.0.9")
    assert view.text[slice(*view.span(ip + 1, ip + 4))] == "<IP>"  # part of a value: all of its placeholder
    # Any line of the template gives the same view.
    assert m.mine("GET /orders/5 from  10.9.9.9 as carol").view().text == view.text


def test_view_of_without_variables_is_the_text():
    v = view_of("plain text", [])
    assert v.text == "plain text" and v.span(0, 5) == (0, 5)


_token = st.one_of(st.sampled_from(["user", "ok", "GET", "ERROR", "db-7", "10.0.0.1", "x=42", "[9]", "id:abc123def4567"]),
                   st.text(alphabet="abcxyz019.=-:/", min_size=1, max_size=8))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_token, min_size=1, max_size=8), min_size=1, max_size=6),
       st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=8, max_size=8))
def test_segments_align_every_line_with_its_template(lines, gaps):
    m = TemplateMiner()
    for tokens in lines:
        line = "".join(tok + gaps[i] for i, tok in enumerate(tokens)).rstrip()
        t = m.mine(line)
        for s in t.segments:
            piece = t.template[s.tpl_start:s.tpl_end]
            if s.placeholder is None:
                assert piece == line[s.start:s.end]
            else:
                assert piece == s.placeholder
            assert t.to_line(s.tpl_start, s.tpl_end) == (s.start, s.end)
        starts = [s.start for s in t.segments]
        assert starts == sorted(starts)
        # Each variable part masked, the view is the template with the line's own spacing.
        view = t.view()
        assert view.text.split() == t.template.split()
        for s in t.segments:
            assert view.text[slice(*view.span(s.start, s.end))] == t.template[s.tpl_start:s.tpl_end]
