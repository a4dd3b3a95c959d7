"""The lifecycle drawing laid out by Graphviz's real ``dot``: what it shows, what it marks, how it escapes.

These tests need ``dot`` (Debian's graphviz, which ``make install`` installs): without it they fail.
"""

from __future__ import annotations

import logging
import stat
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import DEFINITIONS
from workflow.definitions.loader import load_all, parse_definition
from workflow.definitions.model import ANY_STATE, PREVIOUS, Definition
from workflow.web.ui.dot_layout import Layouts, tag
from workflow.web.ui.lifecycle_svg import for_credential, whole

MICRO = DEFINITIONS / "microcredential.yaml"
PID = "lifecycle-microcredential-v1"
HOSTILE = "<script>alert(\"x\")</script> & 'quoted' <BR/> \\l <b>bold</b>"


def definitions() -> list[Definition]:
    return [item.definition for item in load_all([DEFINITIONS]).values()]


def micro() -> Definition:
    return parse_definition(MICRO.read_text(encoding="utf-8")).definition


def laid_out(definition: Definition, layouts: Layouts | None = None) -> ET.Element:
    svg = (layouts or Layouts()).svg(definition, 1)
    assert svg is not None, "Graphviz's dot is missing: install Debian's graphviz (make install does)"
    return svg


def words(element: ET.Element) -> str:
    return " ".join(" ".join(t.text or "" for t in element.iter(tag("text"))).split())


def groups(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    return {g.get("id", ""): g for g in root.iter(tag("g")) if kind in g.get("class", "").split()}


def classes(root: ET.Element, element_id: str) -> set[str]:
    found = [g for g in root.iter(tag("g")) if g.get("id") == element_id]
    assert len(found) == 1, f"no single element {element_id}"
    return set(found[0].get("class", "").split())


@pytest.mark.parametrize("definition", definitions(), ids=lambda d: d.name)
def test_every_state_and_every_move_is_drawn_in_the_definitions_words(definition: Definition) -> None:
    svg = laid_out(definition)
    boxes = {words(g) for g in groups(svg, "state").values()}
    assert boxes == {" ".join(s.title.split()) for s in definition.states.values()}
    arrows = groups(svg, "edge")
    labels = " | ".join(words(g) for g in arrows.values())
    assert "_" not in labels + " ".join(boxes)  # titles, never trigger or state keys
    for transition in definition.transitions:
        assert " ".join(transition.title.split()) in labels, transition.title
        if transition.gate:
            gate = definition.gates[transition.gate].title
            drawn = [g for key, g in arrows.items() if f"-move-{transition.trigger}-" in key]
            assert drawn and all("gate" in g.get("class", "").split() for g in drawn)
            assert all(any(t.get("font-weight") == "bold" and t.text and gate.split()[0] in t.text
                           for t in g.iter(tag("text"))) for g in drawn), gate
        if ANY_STATE in transition.source:  # one arrow from "Any phase", not one from every state
            drawn = [key for key in arrows if f"-move-{transition.trigger}-" in key]
            assert drawn == [f"{PID.replace('microcredential', definition.name)}-move-{transition.trigger}-any-"
                             f"{transition.dest}"]


def test_hold_withdraw_and_resume_leave_any_phase_and_return_to_the_previous_one() -> None:
    svg = laid_out(micro())
    assert words(groups(svg, "node")[f"{PID}-state-any"]) == "Any phase"
    assert words(groups(svg, "node")[f"{PID}-state-previous"]) == "Previous phase"
    assert {"any", "move"} <= classes(svg, f"{PID}-move-hold-any-on_hold")
    assert words(groups(svg, "edge")[f"{PID}-move-hold-any-on_hold"]) == "Put on hold"
    assert words(groups(svg, "edge")[f"{PID}-move-withdraw-any-withdrawn"]) == "Withdraw"
    assert words(groups(svg, "edge")[f"{PID}-move-resume-on_hold-previous"]) == "Resume"
    assert "final" in classes(svg, f"{PID}-state-withdrawn") and "initial" in classes(svg, f"{PID}-state-ideation")
    assert [t.trigger for t in micro().transitions if t.dest == PREVIOUS] == ["resume"]


def test_a_credential_drawing_marks_where_it_is_and_the_way_it_came() -> None:
    definition = micro()
    moves = [("ideation", "feasibility", "submit_for_feasibility"), ("feasibility", "design", "approve_feasibility"),
             ("design", "on_hold", "hold"), ("on_hold", "design", "resume")]
    drawing = for_credential(Layouts(), definition, 1, "design", moves)
    assert drawing is not None
    svg = ET.fromstring(str(drawing.svg))
    assert {"current", "visited"} <= classes(svg, f"{PID}-state-design")
    for state in ("ideation", "feasibility", "on_hold"):
        assert "visited" in classes(svg, f"{PID}-state-{state}") and "current" not in classes(
            svg, f"{PID}-state-{state}")
    assert not {"visited", "current"} & classes(svg, f"{PID}-state-build")
    taken = {g.get("id") for g in svg.iter(tag("g")) if "taken" in g.get("class", "").split()}
    assert taken == {f"{PID}-start-ideation", f"{PID}-move-submit_for_feasibility-ideation-feasibility",
                     f"{PID}-move-approve_feasibility-feasibility-design", f"{PID}-move-hold-any-on_hold",
                     f"{PID}-move-resume-on_hold-previous"}
    assert drawing.path == ("Ideation", "Feasibility", "Design", "On hold", "Design")
    title = svg[0]
    assert title.tag == tag("title") and svg.get("role") == "img" and svg.get("aria-labelledby") == title.get("id")
    assert title.text == ("Lifecycle of Micro-credential lifecycle, now at Design. "
                          "The way so far: Ideation, Feasibility, Design, On hold, Design.")


def test_the_whole_graph_marks_nothing_and_fits_a_strict_content_security_policy() -> None:
    drawing = whole(Layouts(), micro(), 1)
    assert drawing is not None and drawing.path == ()
    svg = ET.fromstring(str(drawing.svg))
    assert not [g for g in svg.iter(tag("g")) if {"current", "visited", "taken"} & set(g.get("class", "").split())]
    assert svg.get("viewBox") and svg.get("role") == "img" and "lifecycle-graph" in svg.get("class", "")
    assert not [e.tag for e in svg.iter() if "style" in e.attrib or e.tag in (tag("style"), tag("script"))]
    # tooltips say what a box or an arrow shows, not Graphviz's node names
    assert {t.text for t in svg.iter(tag("title"))} >= {"Evaluation and content review", "Put on hold"}
    assert "on_hold" not in {t.text for t in svg.iter(tag("title"))}


def test_titles_from_yaml_are_shown_as_text_never_as_markup() -> None:
    quoted = "'" + HOSTILE.replace("'", "''") + "'"
    text = (MICRO.read_text(encoding="utf-8")
            .replace("    title: Design\n", f"    title: {quoted}\n")
            .replace("    title: Complete design\n", f"    title: {quoted}\n")
            .replace("    title: Feasibility approval\n", f"    title: {quoted}\n"))
    definition = parse_definition(text).definition
    assert definition.states["design"].title == HOSTILE
    drawing = for_credential(Layouts(), definition, 1, "design", [])
    assert drawing is not None
    markup = str(drawing.svg)
    assert "<script" not in markup and "<b>" not in markup and "<BR/>" not in markup
    assert "&lt;script&gt;" in markup
    svg = ET.fromstring(markup)  # well-formed: every title escaped
    def squeezed(text: str) -> str:  # long titles are wrapped onto several lines
        return "".join(text.split())

    assert squeezed(words(groups(svg, "state")[f"{PID}-state-design"])) == squeezed(HOSTILE)
    assert squeezed(HOSTILE) in squeezed(words(groups(svg, "edge")[f"{PID}-move-complete_design-design-build"]))
    assert not [e for e in svg.iter() if e.tag in (tag("script"), "script", "b", "BR")]


def test_dot_runs_once_per_definition_version_however_many_ask_at_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    counting = tmp_path / "dot"
    counting.write_text(f"#!/bin/sh\necho run >> {calls}\nexec /usr/bin/dot \"$@\"\n", encoding="utf-8")
    counting.chmod(counting.stat().st_mode | stat.S_IXUSR)
    layouts = Layouts(str(counting))
    definition = micro()
    results: list[ET.Element | None] = []
    threads = [threading.Thread(target=lambda: results.append(layouts.svg(definition, 1))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and results[0] is not None and all(r is results[0] for r in results)
    assert calls.read_text(encoding="utf-8").count("run") == 1
    assert layouts.svg(definition, 2) is not None
    assert calls.read_text(encoding="utf-8").count("run") == 2


def test_without_dot_there_is_no_drawing_and_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    layouts = Layouts(str(tmp_path / "no-dot-here"))
    with caplog.at_level(logging.WARNING, logger="workflow.web.ui.dot_layout"):
        assert layouts.svg(micro(), 1) is None
        assert whole(layouts, micro(), 2) is None
        assert for_credential(layouts, micro(), 3, "design", []) is None
    assert [r.getMessage() for r in caplog.records] == [
        f"Graphviz's '{tmp_path / 'no-dot-here'}' was not found; lifecycles are shown as lists "
        "(install Debian's graphviz package)"]


def test_a_layout_that_takes_too_long_is_given_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stuck = tmp_path / "dot"
    stuck.write_text("#!/bin/sh\nexec sleep 30\n", encoding="utf-8")
    stuck.chmod(stuck.stat().st_mode | stat.S_IXUSR)
    with caplog.at_level(logging.WARNING, logger="workflow.web.ui.dot_layout"):
        assert Layouts(str(stuck), timeout=0.3).svg(micro(), 1) is None
    assert "took more than 0.3 s" in caplog.text
