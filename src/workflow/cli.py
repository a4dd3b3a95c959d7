"""The ``workflow`` command: validate and show definitions, migrate the database, walk credentials."""

from __future__ import annotations

import functools
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from workflow.config import Settings
from workflow.context import Services
from workflow.definitions.diagram import mermaid
from workflow.definitions.loader import definition_files, load_all, load_definition
from workflow.definitions.yamlsource import read_yaml
from workflow.errors import InvalidDefinition, TransitionNotAllowed, WorkflowError
from workflow.services.views import CredentialDetail
from workflow.store.database import Database
from workflow.store.migrate import upgrade

app = typer.Typer(help="Workflow and approval engine for the lifecycle of micro-credentials.",
                  pretty_exceptions_enable=False, no_args_is_help=True)
definitions_app = typer.Typer(help="Workflow definitions (YAML).", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
credentials_app = typer.Typer(help="Credentials: create, inspect and move them through their lifecycle.",
                              no_args_is_help=True)
app.add_typer(definitions_app, name="definitions")
app.add_typer(db_app, name="db")
app.add_typer(credentials_app, name="credentials")

F = TypeVar("F", bound=Callable[..., Any])
Actor = Annotated[str, typer.Option("--as", help="Who is acting (recorded in the history).")]


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _errors_to_exit(func: F) -> F:
    """Print workflow errors plainly (no traceback) and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TransitionNotAllowed as error:
            typer.echo(f"refused: '{error.trigger}' from '{error.state}'", err=True)
            if error.unmet:
                typer.echo("missing:", err=True)
                for unmet in error.unmet:
                    typer.echo(f"  - {unmet}", err=True)
            else:
                typer.echo(f"  {error}", err=True)
            raise typer.Exit(1) from None
        except InvalidDefinition as error:
            for problem in error.problems:
                typer.echo(str(problem), err=True)
            typer.echo(f"{len(error.problems)} problem(s) found", err=True)
            raise typer.Exit(1) from None
        except WorkflowError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _services() -> Services:
    return Services.start(Settings())


# -- definitions ----------------------------------------------------------------------------------------------


@definitions_app.command("validate")
@_errors_to_exit
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


@definitions_app.command("show")
@_errors_to_exit
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


@definitions_app.command("schema")
def definitions_schema() -> None:
    """Print the JSON Schema of the definition format (for editors that check YAML against a schema)."""
    from workflow.definitions.model import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


# -- database -------------------------------------------------------------------------------------------------


@db_app.command("upgrade")
@_errors_to_exit
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    settings = Settings()
    database = Database.from_settings(settings)
    upgrade(database)
    database.dispose()
    typer.echo(f"database is up to date: {_redacted(settings.effective_database_url)}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- credentials ----------------------------------------------------------------------------------------------


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
    typer.echo("  transitions:")
    for option in detail.options:
        if option.allowed:
            typer.echo(f"    {option.trigger} → {option.dest}: allowed")
        else:
            typer.echo(f"    {option.trigger} → {option.dest}: missing")
            for unmet in option.unmet:
                typer.echo(f"      - {unmet}")


@credentials_app.command("create")
@_errors_to_exit
def credentials_create(
    title: Annotated[str, typer.Option(help="The credential's title.")],
    definition: Annotated[str, typer.Option(help="Definition name.")] = "microcredential",
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE (YAML value), repeatable.")] = None,
    actor: Actor = "",
) -> None:
    """Start a new credential in its definition's initial state."""
    services = _services()
    credential_id = services.credentials.create(definition=definition, title=title,
                                                data=_parse_assignments(set_ or []), actor=actor or _default_actor())
    typer.echo(f"created credential #{credential_id}")
    _print_detail(services.credentials.get(credential_id))


@credentials_app.command("list")
@_errors_to_exit
def credentials_list(state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
                     limit: int = 50, offset: int = 0) -> None:
    """List credentials, newest first."""
    for row in _services().credentials.list(state=state, limit=limit, offset=offset):
        typer.echo(f"#{row.id:<6} {row.state:<12} v{row.version:<4} {row.title}")


@credentials_app.command("show")
@_errors_to_exit
def credentials_show(credential_id: int) -> None:
    """Show a credential: data, checklist by role, gates, and what each transition still needs."""
    _print_detail(_services().credentials.get(credential_id))


@credentials_app.command("set")
@_errors_to_exit
def credentials_set(credential_id: int,
                    assignments: Annotated[list[str], typer.Argument(help="FIELD=VALUE (YAML value); empty clears.")],
                    version: Annotated[int | None, typer.Option(help="Refuse if the credential moved on.")] = None,
                    actor: Actor = "") -> None:
    """Change fields of a credential's data."""
    new = _services().credentials.update(credential_id=credential_id, changes=_parse_assignments(assignments),
                                         actor=actor or _default_actor(), expected_version=version)
    typer.echo(f"credential #{credential_id} is now at version {new}")


@credentials_app.command("check")
@_errors_to_exit
def credentials_check(credential_id: int, item: str,
                      undo: Annotated[bool, typer.Option("--undo", help="Mark it not done.")] = False,
                      note: str = "", version: int | None = None, actor: Actor = "") -> None:
    """Mark a checklist item done (or not done with --undo)."""
    new = _services().credentials.set_item(credential_id=credential_id, item=item, done=not undo, note=note,
                                           actor=actor or _default_actor(), expected_version=version)
    typer.echo(f"{item}: {'not done' if undo else 'done'} (credential #{credential_id} version {new})")


@credentials_app.command("decide")
@_errors_to_exit
def credentials_decide(credential_id: int, gate: str,
                       role: Annotated[str, typer.Option(help="The role you decide in.")],
                       decision: Annotated[str, typer.Option(help="approve, reject or request_changes.")]
                       = "approve",
                       comment: str = "", version: int | None = None, actor: Actor = "") -> None:
    """Record a decision on a gate."""
    new = _services().credentials.decide(credential_id=credential_id, gate=gate, role=role, verdict=decision,
                                         comment=comment, actor=actor or _default_actor(), expected_version=version)
    typer.echo(f"{gate}: {decision} recorded (credential #{credential_id} version {new})")


@credentials_app.command("fire")
@_errors_to_exit
def credentials_fire(credential_id: int, trigger: str, comment: str = "", version: int | None = None,
                     actor: Actor = "") -> None:
    """Perform a transition; refused with the list of what is missing if its guards do not hold."""
    outcome = _services().credentials.fire(credential_id=credential_id, trigger=trigger, comment=comment,
                                           actor=actor or _default_actor(), expected_version=version)
    typer.echo(f"credential #{credential_id}: {outcome.source} → {outcome.dest}")


@credentials_app.command("history")
@_errors_to_exit
def credentials_history(credential_id: int) -> None:
    """Print a credential's history, oldest first."""
    for event in _services().credentials.history(credential_id):
        move = f" {event.from_state} → {event.to_state}" if event.to_state else ""
        what = f" {event.trigger}" if event.trigger else ""
        typer.echo(f"{event.seq:>4} {event.at:%Y-%m-%d %H:%M} {event.actor:<12} {event.kind}{what}{move}"
                   f"{' — ' + event.comment if event.comment else ''}"
                   f"{' ' + json.dumps(event.details, ensure_ascii=False) if event.details else ''}")


@app.command("demo")
@_errors_to_exit
def demo() -> None:
    """Fill an empty database with demo credentials in several phases."""
    from workflow.demo import seed

    services = _services()
    created = seed(services.credentials)
    if created:
        typer.echo(f"demo data: created credentials {', '.join(f'#{c}' for c in created)}")
    else:
        typer.echo("demo data: the database already holds credentials; nothing added")
    for row in services.credentials.list():
        typer.echo(f"  #{row.id:<4} {row.state:<12} {row.title}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="workflow")


if __name__ == "__main__":
    main()
