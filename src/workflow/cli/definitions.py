"""``workflow definitions``: validate and show the YAML workflow definitions, print their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workflow.cli.errors import errors_to_exit
from workflow.config import Settings
from workflow.definitions.diagram import mermaid
from workflow.definitions.loader import LoadedDefinition, definition_files, load_all, load_definition

app = typer.Typer(help="Workflow definitions (YAML).", no_args_is_help=True)


@app.command("validate")
@errors_to_exit
def definitions_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the definitions folder).")]
    = None,
) -> None:
    """Check definitions; exit 0 if all are valid, 1 with every problem listed if not."""
    targets = paths or [Settings().definitions_dir]
    files = definition_files(targets)
    if not files:
        typer.echo(f"no definition files in {', '.join(map(str, targets))}", err=True)
        raise typer.Exit(1)
    loaded = load_all(targets)
    for item in loaded.values():
        d = item.definition
        typer.echo(f"ok  {item.path}: {d.name} — {len(d.states)} states, {len(d.transitions)} transitions, "
                   f"{len(d.gates)} gates, {len(d.checklist_items())} checklist items")


@app.command("show")
@errors_to_exit
def definitions_show(name: Annotated[str, typer.Argument(help="Definition name or file.")]) -> None:
    """Print a definition's states, gates and checklists, and a Mermaid diagram."""
    path = Path(name)
    if not path.is_file():
        loaded = load_all([Settings().definitions_dir])
        if name not in loaded:
            typer.echo(f"error: no definition named {name!r} (known: {', '.join(loaded) or 'none'})", err=True)
            raise typer.Exit(1)
        item = loaded[name]
    else:
        item = load_definition(path)
    d = item.definition
    typer.echo(f"{d.title} ({d.name}), sha256 {item.content_hash[:12]}")
    typer.echo("\nStates:")
    for sid, state in d.states.items():
        marks = [m for m, on in (("initial", state.initial), ("final", state.final)) if on]
        plan = f", planned {state.planned_days} days" if state.planned_days else ""
        typer.echo(f"  {sid:<14} {state.title}{' [' + ', '.join(marks) + ']' if marks else ''}"
                   f"{' — phase ' + state.phase if state.phase else ''}{plan}")
    typer.echo("\nTransitions:")
    for t in d.transitions:
        gate = f"  (gate: {t.gate})" if t.gate else ""
        typer.echo(f"  {t.trigger:<24} {', '.join(t.source)} → {t.dest}{gate}")
    for gid, gate_ in d.gates.items():
        typer.echo(f"\nGate {gid}: {gate_.title}")
        for a in gate_.approvers:
            policy = f"{a.n} of" if a.policy == "n_of" else a.policy
            cond = f" when {dict(a.when)}" if a.when else ""
            typer.echo(f"  approver: {a.role} ({policy}, stage {a.stage}){cond}")
        for item_ in gate_.checklist:
            cond = f" (when {dict(item_.when)})" if item_.when else ""
            typer.echo(f"  [ ] {item_.owner}: {item_.title}{cond}")
    for t in d.transitions:
        if t.checklist:
            typer.echo(f"\nChecklist for {t.trigger}:")
            for item_ in t.checklist:
                typer.echo(f"  [ ] {item_.owner}: {item_.title}")
    typer.echo("\nDiagram (Mermaid):\n")
    typer.echo(mermaid(d))


@app.command("simulate")
@errors_to_exit
def definitions_simulate(
    name: Annotated[str, typer.Argument(help="Definition name (in the definitions folder) or file.")],
    everyone: Annotated[bool, typer.Option(
        "--everyone", help="Instead of the organisation in the database, assume every role is held by enough "
                           "people (checks the definition alone).")] = False,
) -> None:
    """Walk every path of a definition: dead ends, gates nobody can pass, checklist items nobody owns, timers that
    never fire, and each path's planned days. Exit 0 when nothing is found, 1 otherwise."""
    from workflow.cli.running import database
    from workflow.definitions.simulate import simulate
    from workflow.services.simulation import enough_of_everyone, role_holders

    item = _named(name)
    d = item.definition
    if everyone:
        holders = enough_of_everyone(d)
        typer.echo(f"{d.title} ({d.name}), with every role held by enough people")
    else:
        with database() as db:
            holders = role_holders(db)
        held = [role for role in d.roles if holders.get(role)]
        typer.echo(f"{d.title} ({d.name}), with the organisation in the database: "
                   f"{len(held)} of its {len(d.roles)} roles held by someone")
    report = simulate(d, holders)
    if report.findings:
        typer.echo(f"\nFindings ({len(report.findings)}):")
        for finding in report.findings:
            typer.echo(f"  [{finding.kind}] {finding.message}")
    else:
        typer.echo("\nNo findings: no dead ends, every gate can be passed, every checklist item has an owner, "
                   "every timer can fire.")
    typer.echo("\nPaths, with the days planned for their states (milestones):")
    for path in report.paths:
        notes = [f"no plan for {', '.join(path.unplanned)}"] if path.unplanned else []
        if path.blocked:
            notes.append(f"blocked: {path.blocked}")
        typer.echo(f"  {path.days:>5} days  {path.route}" + (f"  ({'; '.join(notes)})" if notes else ""))
    if report.more_paths:
        typer.echo(f"  ... more paths than the {len(report.paths)} listed")
    if report.from_anywhere:
        typer.echo(f"\nFrom any state: {'; '.join(report.from_anywhere)}")
    if report.findings:
        raise typer.Exit(1)


def _named(name: str) -> LoadedDefinition:
    """A definition by name from the definitions folder, or from a file."""
    path = Path(name)
    if path.is_file():
        return load_definition(path)
    loaded = load_all([Settings().definitions_dir])
    if name not in loaded:
        typer.echo(f"error: no definition named {name!r} (known: {', '.join(loaded) or 'none'})", err=True)
        raise typer.Exit(1)
    return loaded[name]


@app.command("schema")
def definitions_schema() -> None:
    """Print the JSON Schema of the definition format (for editors that check YAML against a schema)."""
    from workflow.definitions.model import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))
