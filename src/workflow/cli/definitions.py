"""``workflow definitions``: validate and show the YAML workflow definitions, print their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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


@app.command("migrate")
@errors_to_exit
def definitions_migrate(
    name: Annotated[str, typer.Argument(help="The definition whose running credentials move.")],
    to: Annotated[int, typer.Option("--to", help="The version they move to (published already).")],
    mapping: Annotated[Path | None, typer.Option(help="YAML file mapping renamed or removed states: "
                                                      "'states: {old: new}'.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")] = False,
) -> None:
    """Move running credentials to version TO: print the plan (--dry-run), or carry it out, one transaction per
    credential. Refused, changing nothing, while any credential would land in a state version TO does not have."""
    from workflow.cli.progress import progress_bar
    from workflow.cli.running import opened
    from workflow.definitions.migration_map import read_mapping

    states = read_mapping(mapping) if mapping is not None else None
    with opened() as services:
        plan = services.migrations.plan(name, to, states)
        days = services.settings.days
        old_titles = {v: services.definitions.engine(name, v).definition for v in _versions(services, name)}
        new = services.definitions.engine(name, to).definition
        if dry_run:
            for step in plan.credentials:
                typer.echo(_describe(step, old_titles, new, days))
        if plan.refused:
            typer.echo(f"refused: {len(plan.refused):,} credential(s) would land in a state version {to} does not "
                       "have; nothing was changed:", err=True)
            for step in plan.refused:
                typer.echo(f"  #{step.id} {step.title} {step.problem}", err=True)
            raise typer.Exit(1)
        summary = (f"{len(plan.credentials):,} credential(s) of {new.title} to version {to}; "
                   f"{plan.staying:,} in a final state keep their version")
        if dry_run:
            typer.echo(f"plan: {summary} (dry run: nothing was changed)")
            return
        with progress_bar(f"migrating {len(plan.credentials):,} credentials", len(plan.credentials)) as progress:
            done = services.migrations.apply(plan, states, actor="migration", progress=progress)
        again = f"; {len(done.replanned):,} moved since the plan and were planned again" if done.replanned else ""
        typer.echo(f"migrated {len(done.migrated):,} {summary.split(' ', 1)[1]}{again}")


def _versions(services: Any, name: str) -> list[int]:
    return list(range(1, services.definitions.current_version(name) + 1))


def _describe(step: Any, old: dict[int, Any], new: Any, days: Any) -> str:
    """One credential's plan in people's words (state titles, timers in the institution's time)."""
    def title(definitions: list[Any], state: str) -> str:
        for definition in definitions:
            if state in definition.states:
                return str(definition.states[state].title)
        return state

    def when(moment: Any) -> str:
        return days.local(moment).strftime("%Y-%m-%d %H:%M %Z") if moment is not None else "none"

    lines = [f"#{step.id} {step.title}: {title(list(old.values()), step.from_state)} → "
             f"{title([new], step.to_state)}"]
    if step.problem is not None:
        return f"{lines[0]}: REFUSED — {step.problem}"
    lines.append(f"  checklist: {len(step.items_kept)} kept, added: {', '.join(step.items_added) or 'none'}, "
                 f"dropped: {', '.join(step.items_dropped) or 'none'}")
    if step.decisions_kept or step.decisions_invalidated:
        lines.append(f"  decisions kept: {'; '.join(step.decisions_kept) or 'none'}; no longer counting: "
                     f"{'; '.join(step.decisions_invalidated) or 'none'}")
    for move in step.timers:
        change = "unchanged" if move.before == move.after else f"{when(move.before)} → {when(move.after)}"
        lines.append(f"  timer {move.key}: {when(move.after) if move.before == move.after else change}"
                     f"{' (unchanged)' if move.before == move.after else ''}")
    return "\n".join(lines)
