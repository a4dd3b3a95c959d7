"""``workflow credentials``: create credentials, inspect them and move them through their lifecycle."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import Actor, caller, default_actor, opened
from workflow.definitions.yamlsource import read_yaml
from workflow.services.views import CredentialDetail

app = typer.Typer(help="Credentials: create, inspect and move them through their lifecycle.", no_args_is_help=True)


def _parse_assignments(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected FIELD=VALUE, got {pair!r}")
        document = read_yaml(text) if text.strip() else None
        if document is not None and document.problems:
            raise typer.BadParameter(f"{name}: {document.problems[0].message}")
        values[name.strip()] = document.data if document is not None else None
    return values


def _print_detail(detail: CredentialDetail) -> None:
    typer.echo(f"#{detail.id} {detail.title}")
    typer.echo(f"  definition {detail.definition} v{detail.definition_version}, version {detail.version}")
    typer.echo(f"  state: {detail.state} ({detail.state_title}){' — phase ' + detail.phase if detail.phase else ''}"
               f", since {detail.state_entered_at:%Y-%m-%d %H:%M} UTC")
    if detail.data:
        typer.echo("  data:")
        for key, value in detail.data.items():
            typer.echo(f"    {key}: {json.dumps(value, ensure_ascii=False)}")
    for role, items in detail.checklist_by_role().items():
        typer.echo(f"  checklist — {role}:")
        for item in items:
            mark = "x" if item.done else " "
            note = f" — {item.note}" if item.note else ""
            typer.echo(f"    [{mark}] {item.key}: {item.title}{note}")
    for gate in detail.gates:
        typer.echo(f"  gate {gate.gate} ({gate.title}):")
        for a in gate.approvers:
            typer.echo(f"    {a.role} stage {a.stage}: {a.approvals} of {a.needed} approval(s)")
        for d in gate.decisions:
            typer.echo(f"    {d['actor']} as {d['role']}: {d['verdict']}{' — ' + d['comment'] if d['comment'] else ''}")
    if detail.timers:
        typer.echo("  timers:")
        for timer in detail.timers:
            typer.echo(f"    {timer['due_at']:%Y-%m-%d %H:%M} UTC  {timer['action']:<8} {timer['key']}")
    typer.echo("  transitions:")
    for option in detail.options:
        if option.allowed:
            typer.echo(f"    {option.trigger} → {option.dest}: allowed")
        else:
            typer.echo(f"    {option.trigger} → {option.dest}: missing")
            for unmet in option.unmet:
                typer.echo(f"      - {unmet}")


@app.command("create")
@errors_to_exit
def credentials_create(
    title: Annotated[str, typer.Option(help="The credential's title.")],
    definition: Annotated[str, typer.Option(help="Definition name.")] = "microcredential",
    unit: Annotated[str, typer.Option(help="Key of the faculty or department it belongs to.")] = "",
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE (YAML value), repeatable.")] = None,
    actor: Actor = "",
) -> None:
    """Start a new credential in its definition's initial state."""
    with opened() as services:
        by = caller(services, actor)
        unit_id = services.people.unit_id(unit) if unit else None
        credential_id = services.credentials.create(definition=definition, title=title, org_unit_id=unit_id,
                                                    data=_parse_assignments(set_ or []), by=by)
        typer.echo(f"created credential #{credential_id}")
        _print_detail(services.views.get(credential_id, by=by))


@app.command("list")
@errors_to_exit
def credentials_list(state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
                     overdue: Annotated[bool, typer.Option(help="Only those past their phase's plan.")] = False,
                     limit: int = 50, offset: int = 0, actor: Actor = "") -> None:
    """List the credentials you can see, newest first."""
    with opened() as services:
        rows, total = services.views.search(by=caller(services, actor), state=state, overdue=overdue,
                                                limit=limit, offset=offset)
    for row in rows:
        typer.echo(f"#{row.id:<6} {row.state:<12} v{row.version:<4} {row.title}")
    typer.echo(f"({len(rows)} of {total})")


@app.command("show")
@errors_to_exit
def credentials_show(credential_id: int, actor: Actor = "") -> None:
    """Show a credential: data, checklist by role, gates, and what each transition still needs."""
    with opened() as services:
        _print_detail(services.views.get(credential_id, by=caller(services, actor)))


@app.command("set")
@errors_to_exit
def credentials_set(credential_id: int,
                    assignments: Annotated[list[str], typer.Argument(help="FIELD=VALUE (YAML value); empty clears.")],
                    version: Annotated[int | None, typer.Option(help="Refuse if the credential moved on.")] = None,
                    actor: Actor = "") -> None:
    """Change fields of a credential's data."""
    with opened() as services:
        new = services.credentials.update(credential_id=credential_id, changes=_parse_assignments(assignments),
                                          by=caller(services, actor), expected_version=version)
    typer.echo(f"credential #{credential_id} is now at version {new}")


@app.command("check")
@errors_to_exit
def credentials_check(credential_id: int, item: str,
                      undo: Annotated[bool, typer.Option("--undo", help="Mark it not done.")] = False,
                      note: str = "", version: int | None = None, actor: Actor = "") -> None:
    """Mark a checklist item done (or not done with --undo)."""
    with opened() as services:
        new = services.credentials.set_item(credential_id=credential_id, item=item, done=not undo, note=note,
                                            by=caller(services, actor), expected_version=version)
    typer.echo(f"{item}: {'not done' if undo else 'done'} (credential #{credential_id} version {new})")


@app.command("decide")
@errors_to_exit
def credentials_decide(credential_id: int, gate: str,
                       decision: Annotated[str, typer.Option(help="approve, reject or request_changes.")]
                       = "approve",
                       role: Annotated[str | None, typer.Option(help="The role you decide in, if several.")] = None,
                       on_behalf_of: Annotated[str | None, typer.Option(help="Decide as this person's delegate.")]
                       = None,
                       comment: str = "", version: int | None = None, actor: Actor = "") -> None:
    """Record a decision on a gate."""
    with opened() as services:
        result = services.credentials.decide(credential_id=credential_id, gate=gate, role=role, verdict=decision,
                                             on_behalf_of=on_behalf_of, comment=comment,
                                             by=caller(services, actor), expected_version=version)
    who = f" on behalf of {result.principal}" if result.principal != (actor or default_actor()) else ""
    typer.echo(f"{gate}: {decision} recorded as {result.role}{who} (credential #{credential_id} "
               f"version {result.version})")
    if result.fired is not None:
        typer.echo(f"gate complete: credential #{credential_id} {result.fired.source} → {result.fired.dest}")


@app.command("fire")
@errors_to_exit
def credentials_fire(credential_id: int, trigger: str, comment: str = "", version: int | None = None,
                     actor: Actor = "") -> None:
    """Perform a transition; refused with the list of what is missing if its guards do not hold."""
    with opened() as services:
        outcome = services.credentials.fire(credential_id=credential_id, trigger=trigger, comment=comment,
                                            by=caller(services, actor), expected_version=version)
    typer.echo(f"credential #{credential_id}: {outcome.source} → {outcome.dest}")


@app.command("history")
@errors_to_exit
def credentials_history(credential_id: int, actor: Actor = "") -> None:
    """Print a credential's history, oldest first."""
    with opened() as services:
        events = services.views.history(credential_id, by=caller(services, actor))
    for event in events:
        move = f" {event.from_state} → {event.to_state}" if event.to_state else ""
        what = f" {event.trigger}" if event.trigger else ""
        typer.echo(f"{event.seq:>4} {event.at:%Y-%m-%d %H:%M} {event.actor:<12} {event.kind}{what}{move}"
                   f"{' — ' + event.comment if event.comment else ''}"
                   f"{' ' + json.dumps(event.details, ensure_ascii=False) if event.details else ''}")
