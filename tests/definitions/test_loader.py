"""Loading definitions: the shipped folder, YAML 1.2 reading, line numbers, several files, hashes and diagrams."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DEFINITIONS
from workflow.definitions.diagram import mermaid
from workflow.definitions.loader import definition_files, load_all, load_definition, parse_definition
from workflow.definitions.yamlsource import read_yaml
from workflow.errors import InvalidDefinition

RunCli = Callable[..., subprocess.CompletedProcess[str]]

BROKEN = Path(__file__).resolve().parent / "broken"

TINY = """\
name: tiny
title: Tiny "pilot" lifecycle
roles:
  author: {title: Author}
  dean: {title: Dean}
fields:
  title: {label: Title}
states:
  draft: {title: Draft, initial: true}
  design: {title: Design}
  on_hold: {title: On hold}
  live: {title: Live}
  retired: {title: Retired, final: true}
gates:
  launch_approval:
    title: Launch
    approvers:
      - {role: dean, policy: any}
transitions:
  - {trigger: start, source: draft, dest: design, requires_fields: [title]}
  - {trigger: launch, source: design, dest: live, gate: launch_approval}
  - {trigger: retire, source: live, dest: retired}
  - {trigger: hold, source: [draft, design], dest: on_hold}
  - {trigger: resume, source: on_hold, dest: "@previous"}
"""


def problems_of(text: str, file: str = "tiny.yaml") -> list[str]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, file=file)
    return [str(problem) for problem in caught.value.problems]


# -- the shipped definitions ----------------------------------------------------------------------------------


def test_the_shipped_definitions_validate_with_the_command(run_cli: RunCli) -> None:
    files = definition_files([DEFINITIONS])
    assert [path.name for path in files] == sorted(path.name for path in DEFINITIONS.glob("*.y*ml"))
    assert "microcredential.yaml" in [path.name for path in files]
    loaded = load_all([DEFINITIONS])

    for args in (("definitions", "validate"), ("definitions", "validate", "definitions")):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        lines = result.stdout.splitlines()
        assert len(lines) == len(files) == len(loaded)
        for name, item in loaded.items():
            d = item.definition
            assert (f"ok  definitions/{Path(item.path).name}: {name} — {len(d.states)} states, "
                    f"{len(d.transitions)} transitions, {len(d.gates)} gates, "
                    f"{len(d.checklist_items())} checklist items") in lines


def test_the_micro_credential_lifecycle_is_what_the_toolkit_describes() -> None:
    d = load_all([DEFINITIONS])["microcredential"].definition
    assert next(sid for sid, state in d.states.items() if state.initial) == "ideation"
    assert {sid for sid, state in d.states.items() if state.final} == {"retired", "withdrawn"}
    assert {"feasibility_approval", "governance_signoff", "launch_approval", "renewal", "sunset_approval"} <= set(
        d.gates)


# -- YAML 1.2 --------------------------------------------------------------------------------------------------


def test_yaml_1_2_words_like_on_and_yes_stay_text() -> None:
    text = (TINY.replace("{title: Draft,", "{title: on, phase: off,")
            .replace("{title: Author}", "{title: yes, description: no}")
            .replace("{label: Title}", "{label: 'Y', description: 2026-09-01}"))
    d = parse_definition(text).definition
    assert d.states["draft"].title == "on"
    assert d.states["draft"].phase == "off"
    assert d.roles["author"].title == "yes"
    assert d.roles["author"].description == "no"
    assert d.fields["title"].description == "2026-09-01"
    assert read_yaml("a: on\nb: Yes\nc: NO\nd: y\ne: true\nf: 017\ng: 0o17\nh: ~\n").data == {
        "a": "on", "b": "Yes", "c": "NO", "d": "y", "e": True, "f": 17, "g": 15, "h": None}


def test_a_yaml_1_1_boolean_in_a_condition_is_refused_with_a_hint() -> None:
    text = TINY.replace("{label: Title}", "{label: Title}\n  credit_bearing: {label: Credit, type: boolean}").replace(
        "{role: dean, policy: any}", "{role: dean, policy: any, when: {credit_bearing: on}}")
    assert problems_of(text) == [
        "tiny.yaml:19: [bad-condition] field 'credit_bearing' is a boolean; compare it with true or false, not 'on'"]


# -- line numbers -----------------------------------------------------------------------------------------------


def test_the_source_map_gives_the_line_of_every_value_and_key() -> None:
    document = read_yaml(TINY)
    lines = document.lines
    assert document.problems == []
    assert lines.keys[("states",)] == 8
    assert lines.values[("states",)] == 9
    assert lines.keys[("states", "design")] == 10
    assert lines.values[("states", "design", "title")] == 10
    assert lines.values[("gates", "launch_approval", "approvers", 0, "role")] == 18
    assert lines.values[("transitions", 1)] == 21
    assert lines.values[("transitions", 1, "gate")] == 21
    assert lines.values[("transitions", 0, "requires_fields", 0)] == 20
    assert lines.values[("transitions", 4, "dest")] == 24
    # A path that is not in the file (a default value) falls back to the nearest thing that is.
    assert lines.line_of(("transitions", 2, "checklist", 0)) == 22
    assert lines.line_of(("states", "live"), key=True) == 12
    assert lines.line_of(("nothing", "here")) == 1


def test_a_problem_deep_inside_a_flow_list_points_at_its_line() -> None:
    text = TINY.replace("dest: retired}", "dest: retired,\n     by: [author, deen]}")
    assert problems_of(text) == ["tiny.yaml:23: [unknown-role] unknown role 'deen' — did you mean 'dean'?"]


# -- several files ----------------------------------------------------------------------------------------------


def test_load_all_reports_the_problems_of_every_file_together(tmp_path: Path) -> None:
    (tmp_path / "a_valid.yaml").write_text(TINY, encoding="utf-8")
    shutil.copy(BROKEN / "unknown-state.yaml", tmp_path / "b.yaml")
    shutil.copy(BROKEN / "unknown-role.yaml", tmp_path / "c.yml")
    (tmp_path / "notes.txt").write_text("not a definition", encoding="utf-8")

    with pytest.raises(InvalidDefinition) as caught:
        load_all([tmp_path])
    assert [str(problem) for problem in caught.value.problems] == [
        f"{tmp_path / 'b.yaml'}:21: [unknown-state] unknown state 'desing' — did you mean 'design'?",
        f"{tmp_path / 'c.yml'}:18: [unknown-role] unknown role 'deen' — did you mean 'dean'?",
        f"{tmp_path / 'c.yml'}:20: [unknown-role] unknown role 'auther' — did you mean 'author'?",
    ]


def test_two_files_defining_the_same_name_are_refused(tmp_path: Path, run_cli: RunCli) -> None:
    first, second = tmp_path / "one.yaml", tmp_path / "two.yaml"
    first.write_text(TINY, encoding="utf-8")
    second.write_text(TINY.replace('Tiny "pilot" lifecycle', "Another tiny lifecycle"), encoding="utf-8")

    with pytest.raises(InvalidDefinition) as caught:
        load_all([tmp_path])
    expected = f"{second}:1: [duplicate-definition] definition 'tiny' is also defined in {first}"
    assert [str(problem) for problem in caught.value.problems] == [expected]

    result = run_cli("definitions", "validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"{expected}\n1 problem(s) found\n"


def test_validating_a_folder_without_definitions_says_so(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("definitions", "validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == f"no definition files in {tmp_path}\n"


def test_a_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(InvalidDefinition) as caught:
        load_definition(missing)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{missing}:1: [unreadable] No such file or directory"]


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    text = TINY + "# padding\n" * 100_001
    assert problems_of(text) == ["tiny.yaml:1: [too-large] definition is larger than 1000000 bytes"]


# -- content hash ----------------------------------------------------------------------------------------------


def test_the_content_hash_identifies_the_exact_text(tmp_path: Path) -> None:
    loaded = parse_definition(TINY)
    assert loaded.content_hash == hashlib.sha256(TINY.encode("utf-8")).hexdigest()
    assert loaded.source == TINY
    assert parse_definition(TINY).content_hash == loaded.content_hash

    retitled = parse_definition(TINY.replace("{title: Live}", "{title: Running}"))
    assert retitled.content_hash != loaded.content_hash
    commented = parse_definition("# version 2\n" + TINY)
    assert commented.content_hash not in {loaded.content_hash, retitled.content_hash}
    assert commented.definition == loaded.definition

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    assert load_definition(path).content_hash == loaded.content_hash
    assert load_definition(path).path == str(path)


# -- show and diagrams -----------------------------------------------------------------------------------------


def test_show_prints_the_gates_and_a_mermaid_diagram(run_cli: RunCli) -> None:
    item = load_all([DEFINITIONS])["microcredential"]
    d = item.definition
    result = run_cli("definitions", "show", "microcredential")
    assert result.returncode == 0, result.stderr
    out = result.stdout

    assert out.startswith(f"Micro-credential lifecycle (microcredential), sha256 {item.content_hash[:12]}\n")
    assert "\nGate feasibility_approval: Feasibility approval\n  approver: dean (any, stage 1)\n" in out
    assert "\nGate governance_signoff: Governance sign-off\n  approver: qa_office (any, stage 1)\n" in out
    assert "  approver: academic_governance (2 of, stage 2) when {'credit_bearing': True}\n" in out
    assert "  [ ] registrar: Transcript entry planned (when {'credit_bearing': True})\n" in out
    for gid, gate in d.gates.items():
        assert f"\nGate {gid}: {gate.title}\n" in out

    diagram = out.split("\nDiagram (Mermaid):\n\n", 1)[1]
    assert diagram.startswith("stateDiagram-v2\n")
    assert diagram.rstrip("\n") == mermaid(d).rstrip("\n")
    lines = diagram.splitlines()
    for sid, state in d.states.items():
        assert f'    state "{state.title}" as {sid}' in lines
        assert (f"    {sid} --> [*]" in lines) is state.final
    assert "    [*] --> ideation" in lines
    assert "    feasibility --> design: approve_feasibility [Feasibility approval]" in lines
    assert "    on_hold --> design: resume" in lines  # '@previous' spelt out for every state one can hold from


def test_show_names_an_unknown_definition_and_the_known_ones(run_cli: RunCli) -> None:
    result = run_cli("definitions", "show", "microcredentials")
    assert result.returncode == 1
    assert "error: no definition named 'microcredentials' (known: " in result.stderr
    assert "microcredential" in result.stderr.split("known: ", 1)[1]


def test_show_reports_a_broken_file_given_by_path(run_cli: RunCli) -> None:
    result = run_cli("definitions", "show", "tests/definitions/broken/unknown-state.yaml")
    assert result.returncode == 1
    assert result.stderr == ("tests/definitions/broken/unknown-state.yaml:21: [unknown-state] unknown state "
                             "'desing' — did you mean 'design'?\n1 problem(s) found\n")


def test_mermaid_draws_every_state_edge_gate_and_final() -> None:
    d = parse_definition(TINY).definition
    assert mermaid(d) == """\
stateDiagram-v2
    state "Draft" as draft
    state "Design" as design
    state "On hold" as on_hold
    state "Live" as live
    state "Retired" as retired
    [*] --> draft
    draft --> design: start
    design --> live: launch [Launch]
    live --> retired: retire
    draft --> on_hold: hold
    design --> on_hold: hold
    on_hold --> design: resume
    on_hold --> draft: resume
    retired --> [*]
"""


def test_mermaid_highlights_the_current_state_and_keeps_quotes_out_of_labels() -> None:
    d = parse_definition(TINY.replace("{title: Design}", '{title: Design "v2"}')).definition
    plain = mermaid(d)
    assert "classDef" not in plain and "class " not in plain
    assert '    state "Design \'v2\'" as design\n' in plain

    highlighted = mermaid(d, current="design")
    assert highlighted.startswith(plain)
    assert highlighted[len(plain):] == ("    classDef current fill:#ffd54f,stroke:#5d4037,stroke-width:3px\n"
                                        "    class design current\n")


# -- known gaps (strict xfail: they fail the run once fixed, so that the marker is removed) ----------------------



def test_python_tags_on_mappings_and_lists_are_refused_too() -> None:
    text = TINY.replace("roles:\n", "roles: !!python/object:collections.OrderedDict\n").replace(
        "[title]}", "!!python/object/apply:os.system [title]}")
    problems = problems_of(text)
    assert any("tiny.yaml:3: [yaml] unsupported YAML tag" in problem for problem in problems)
    assert any("tiny.yaml:20: [yaml] unsupported YAML tag" in problem for problem in problems)



def test_a_trigger_from_any_state_that_overlaps_an_explicit_one_is_a_duplicate() -> None:
    text = TINY + "  - {trigger: halt, source: '*', dest: on_hold}\n  - {trigger: halt, source: live, dest: retired}\n"
    problems = problems_of(text)
    assert any("[duplicate-transition] 'halt' from 'live' is already defined" in problem for problem in problems)



def test_an_unclosed_quote_is_reported_where_it_opens() -> None:
    text = 'name: tiny\ntitle: "Tiny lifecycle\nroles:\n  author: {title: Author}\n'
    assert problems_of(text) == [
        "tiny.yaml:2: [yaml] invalid YAML: while scanning a quoted scalar: found unexpected end of stream"]


def test_yes_and_quoted_numbers_are_not_taken_for_booleans_and_integers() -> None:
    text = TINY.replace("{title: Draft, initial: true}", "{title: Draft, initial: yes}").replace(
        "{title: Design}", '{title: Design, planned_days: "30"}')
    problems = problems_of(text)
    assert "tiny.yaml:9: [bad-value] states.draft.initial: Input should be a valid boolean" in problems
    assert "tiny.yaml:10: [bad-value] states.design.planned_days: Input should be a valid integer" in problems
