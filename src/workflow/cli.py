"""The ``workflow`` command: validate and show definitions, migrate the database, walk credentials."""

from __future__ import annotations

import functools
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from workflow.config import Settings
from workflow.context import Services
from workflow.definitions.diagram import mermaid
from workflow.definitions.loader import definition_files, load_all, load_definition
from workflow.definitions.yamlsource import read_yaml
from workflow.errors import InvalidFile, NotFound, TransitionNotAllowed, WorkflowError
from workflow.services.access import Caller
from workflow.services.views import CredentialDetail
from workflow.store.backup import backup, restore
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
org_app = typer.Typer(help="The organisation: org units, people and their roles.", no_args_is_help=True)
users_app = typer.Typer(help="People who sign in, and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")

F = TypeVar("F", bound=Callable[..., Any])
Actor = Annotated[str, typer.Option("--as", help="The user you act as (default: your login name).")]


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
        except InvalidFile as error:
            for problem in error.problems:
                typer.echo(str(problem), err=True)
            typer.echo(f"{len(error.problems)} problem(s) found", err=True)
            raise typer.Exit(1) from None
        except WorkflowError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except ValidationError as error:
            if error.title != Settings.__name__:
                raise
            for issue in error.errors():  # a setting from the environment: name the variable
                where = "_".join(str(part) for part in issue["loc"]).upper()
                typer.echo(f"error: {'WORKFLOW_' + where + ': ' if where else ''}{issue['msg']}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _services() -> Services:
    return Services.start(Settings())


def _caller(services: Services, username: str) -> Caller:
    name = username or _default_actor()
    try:
        return services.access.caller_by_name(name)
    except NotFound:
        raise WorkflowError(f"there is no user '{name}'; pass --as USERNAME (see `workflow users list`)") from None


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


@app.command("backup")
@_errors_to_exit
def backup_command(path: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the backup.")]) -> None:
    """Write every table of the database to FILE (gzip'd JSON lines), as it stood at one moment."""
    settings = Settings()
    database = Database.from_settings(settings)
    try:
        summary = backup(database, path)
    finally:
        database.dispose()
    typer.echo(f"backup of {_redacted(settings.effective_database_url)} (schema {summary.revision}) written to "
               f"{path}:")
    _print_counts(summary.rows)


@app.command("restore")
@_errors_to_exit
def restore_command(path: Annotated[Path, typer.Argument(metavar="FILE", help="A file `workflow backup` wrote.")],
                    force: Annotated[bool, typer.Option("--force", help="Replace whatever the database holds.")]
                    = False) -> None:
    """Put a backup into the database (empty, unless --force), then bring its schema up to date."""
    settings = Settings()
    database = Database.from_settings(settings)
    try:
        summary = restore(database, path, force=force)
        upgrade(database)
    finally:
        database.dispose()
    typer.echo(f"restored {path} (schema {summary.revision}) into {_redacted(settings.effective_database_url)}:")
    _print_counts(summary.rows)
    typer.echo("database is up to date")


def _print_counts(rows: dict[str, int]) -> None:
    for table, count in rows.items():
        typer.echo(f"  {table:<20} {count:>8}")
    typer.echo(f"  {'(all tables)':<20} {sum(rows.values()):>8}")


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


@credentials_app.command("create")
@_errors_to_exit
def credentials_create(
    title: Annotated[str, typer.Option(help="The credential's title.")],
    definition: Annotated[str, typer.Option(help="Definition name.")] = "microcredential",
    unit: Annotated[str, typer.Option(help="Key of the faculty or department it belongs to.")] = "",
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE (YAML value), repeatable.")] = None,
    actor: Actor = "",
) -> None:
    """Start a new credential in its definition's initial state."""
    services = _services()
    by = _caller(services, actor)
    unit_id = services.people.unit_id(unit) if unit else None
    credential_id = services.credentials.create(definition=definition, title=title, org_unit_id=unit_id,
                                                data=_parse_assignments(set_ or []), by=by)
    typer.echo(f"created credential #{credential_id}")
    _print_detail(services.views.get(credential_id, by=by))


@credentials_app.command("list")
@_errors_to_exit
def credentials_list(state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
                     overdue: Annotated[bool, typer.Option(help="Only those past their phase's plan.")] = False,
                     limit: int = 50, offset: int = 0, actor: Actor = "") -> None:
    """List the credentials you can see, newest first."""
    services = _services()
    rows, total = services.views.search(by=_caller(services, actor), state=state, overdue=overdue, limit=limit,
                                            offset=offset)
    for row in rows:
        typer.echo(f"#{row.id:<6} {row.state:<12} v{row.version:<4} {row.title}")
    typer.echo(f"({len(rows)} of {total})")


@credentials_app.command("show")
@_errors_to_exit
def credentials_show(credential_id: int, actor: Actor = "") -> None:
    """Show a credential: data, checklist by role, gates, and what each transition still needs."""
    services = _services()
    _print_detail(services.views.get(credential_id, by=_caller(services, actor)))


@credentials_app.command("set")
@_errors_to_exit
def credentials_set(credential_id: int,
                    assignments: Annotated[list[str], typer.Argument(help="FIELD=VALUE (YAML value); empty clears.")],
                    version: Annotated[int | None, typer.Option(help="Refuse if the credential moved on.")] = None,
                    actor: Actor = "") -> None:
    """Change fields of a credential's data."""
    services = _services()
    new = services.credentials.update(credential_id=credential_id, changes=_parse_assignments(assignments),
                                      by=_caller(services, actor), expected_version=version)
    typer.echo(f"credential #{credential_id} is now at version {new}")


@credentials_app.command("check")
@_errors_to_exit
def credentials_check(credential_id: int, item: str,
                      undo: Annotated[bool, typer.Option("--undo", help="Mark it not done.")] = False,
                      note: str = "", version: int | None = None, actor: Actor = "") -> None:
    """Mark a checklist item done (or not done with --undo)."""
    services = _services()
    new = services.credentials.set_item(credential_id=credential_id, item=item, done=not undo, note=note,
                                        by=_caller(services, actor), expected_version=version)
    typer.echo(f"{item}: {'not done' if undo else 'done'} (credential #{credential_id} version {new})")


@credentials_app.command("decide")
@_errors_to_exit
def credentials_decide(credential_id: int, gate: str,
                       decision: Annotated[str, typer.Option(help="approve, reject or request_changes.")]
                       = "approve",
                       role: Annotated[str | None, typer.Option(help="The role you decide in, if several.")] = None,
                       on_behalf_of: Annotated[str | None, typer.Option(help="Decide as this person's delegate.")]
                       = None,
                       comment: str = "", version: int | None = None, actor: Actor = "") -> None:
    """Record a decision on a gate."""
    services = _services()
    result = services.credentials.decide(credential_id=credential_id, gate=gate, role=role, verdict=decision,
                                         on_behalf_of=on_behalf_of, comment=comment, by=_caller(services, actor),
                                         expected_version=version)
    who = f" on behalf of {result.principal}" if result.principal != (actor or _default_actor()) else ""
    typer.echo(f"{gate}: {decision} recorded as {result.role}{who} (credential #{credential_id} "
               f"version {result.version})")
    if result.fired is not None:
        typer.echo(f"gate complete: credential #{credential_id} {result.fired.source} → {result.fired.dest}")


@credentials_app.command("fire")
@_errors_to_exit
def credentials_fire(credential_id: int, trigger: str, comment: str = "", version: int | None = None,
                     actor: Actor = "") -> None:
    """Perform a transition; refused with the list of what is missing if its guards do not hold."""
    services = _services()
    outcome = services.credentials.fire(credential_id=credential_id, trigger=trigger, comment=comment,
                                        by=_caller(services, actor), expected_version=version)
    typer.echo(f"credential #{credential_id}: {outcome.source} → {outcome.dest}")


@credentials_app.command("history")
@_errors_to_exit
def credentials_history(credential_id: int, actor: Actor = "") -> None:
    """Print a credential's history, oldest first."""
    services = _services()
    for event in services.views.history(credential_id, by=_caller(services, actor)):
        move = f" {event.from_state} → {event.to_state}" if event.to_state else ""
        what = f" {event.trigger}" if event.trigger else ""
        typer.echo(f"{event.seq:>4} {event.at:%Y-%m-%d %H:%M} {event.actor:<12} {event.kind}{what}{move}"
                   f"{' — ' + event.comment if event.comment else ''}"
                   f"{' ' + json.dumps(event.details, ensure_ascii=False) if event.details else ''}")


demo_app = typer.Typer(help="Demo data: the demo college, or a generated consortium at any scale.")
app.add_typer(demo_app, name="demo")


@demo_app.callback(invoke_without_command=True)
@_errors_to_exit
def demo(ctx: typer.Context) -> None:
    """Load the demo organisation and, into an empty database, demo credentials in several phases."""
    if ctx.invoked_subcommand is not None:
        return
    from workflow.demo.college import PASSWORD, seed

    services = _services()
    created = seed(services)
    if created:
        typer.echo(f"demo data: created credentials {', '.join(f'#{c}' for c in created)}")
    else:
        typer.echo("demo data: the database already holds credentials; none added")
    rows, _ = services.views.search(by=Caller.system())
    for row in rows:
        typer.echo(f"  #{row.id:<4} {row.state:<12} {row.title}")
    typer.echo(f"\ndemo logins (password for all: {PASSWORD}):")
    for user in services.people.users():
        roles = ", ".join(f"{r['role']}@{r['unit'] or '#' + str(r['credential_id'])}" for r in user["roles"])
        typer.echo(f"  {user['username']:<16} {'admin' if user['is_admin'] else roles}")


@demo_app.command("generate")
@_errors_to_exit
def demo_generate(
    credentials: Annotated[int, typer.Option(help="How many credentials to add.")],
    years: Annotated[int, typer.Option(help="Years of history, ending now.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 1,
    batch: Annotated[int, typer.Option(help="Credentials per transaction.")] = 500,
) -> None:
    """Fill the database with a consortium and CREDENTIALS credentials with consistent histories."""
    from workflow.demo.generate import check_arguments, generate

    check_arguments(credentials, years, batch)
    services = _services()
    with typer.progressbar(length=credentials, label=f"generating {credentials:,} credentials") as bar:
        report = generate(services, credentials=credentials, years=years, seed=seed, batch=batch,
                          progress=bar.update)
    services.close()
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(report.by_state.items()))
    typer.echo(f"generated {report.credentials:,} credentials with {report.events:,} events "
               f"({report.rows:,} rows) in {report.seconds:.1f} s: {report.rows_per_second:,.0f} rows/s")
    if states:
        typer.echo(f"by state: {states}")


@org_app.command("load")
@_errors_to_exit
def org_load(path: Path) -> None:
    """Add or update org units, people and their roles from a YAML file (all or nothing)."""
    from workflow.services.orgfile import read_org_file

    services = _services()
    org = read_org_file(path, known_roles=services.people.known_roles, existing_units=services.people.unit_keys())
    report = services.people.load(org, by=Caller.system("cli"))
    typer.echo(f"org units: {report.units_added} added, {report.units_updated} updated; users: {report.users_added} "
               f"added, {report.users_updated} updated; {report.roles_added} role assignment(s) added")


@org_app.command("show")
@_errors_to_exit
def org_show() -> None:
    """List the org units."""
    for unit in _services().people.units():
        typer.echo(f"  {unit['key']:<20} {unit['kind']:<12} {unit['name']}"
                   f"{'  (in ' + unit['parent'] + ')' if unit['parent'] else ''}")


@users_app.command("create")
@_errors_to_exit
def users_create(username: str, name: Annotated[str, typer.Option(help="Full name.")] = "",
                 email: str = "", admin: bool = False,
                 password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")]
                 = False) -> None:
    """Add a person (without a password they can only use API tokens)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    user_id = _services().people.create_user(username=username, display_name=name, email=email, password=password,
                                             admin=admin, by=Caller.system("cli"))
    typer.echo(f"created user {username} (#{user_id})")


@users_app.command("list")
@_errors_to_exit
def users_list() -> None:
    """List people and their roles."""
    for user in _services().people.users(limit=10_000):
        roles = ", ".join(f"{r['role']}@{r['unit'] or '#' + str(r['credential_id'])}" for r in user["roles"])
        flags = " [admin]" if user["is_admin"] else "" + ("" if user["active"] else " [inactive]")
        typer.echo(f"  {user['username']:<20} {user['display_name']}{flags}  {roles}")


@users_app.command("set-password")
@_errors_to_exit
def users_set_password(username: str) -> None:
    """Set a password, read from standard input."""
    password = sys.stdin.readline().rstrip("\n")
    _services().people.set_password(username=username, password=password, by=Caller.system("cli"))
    typer.echo(f"password set for {username}")


@users_app.command("assign")
@_errors_to_exit
def users_assign(username: str, role: str, unit: Annotated[str, typer.Option(help="Org unit key.")] = "",
                 credential: Annotated[int | None, typer.Option(help="Credential id.")] = None) -> None:
    """Give a person a role for an org unit (and everything under it) or for one credential."""
    services = _services()
    services.people.assign(user_id=services.people.user_id(username), role=role, by=Caller.system("cli"),
                           unit_id=services.people.unit_id(unit) if unit else None, credential_id=credential)
    typer.echo(f"{username} is now {role} for {unit or f'credential #{credential}'}")


@tokens_app.command("create")
@_errors_to_exit
def tokens_create(username: str, name: Annotated[str, typer.Option(help="What the token is for.")]) -> None:
    """Create a personal API token; it is printed once and only its hash is kept."""
    services = _services()
    token = services.auth.create_token(services.people.user_id(username), name)
    typer.echo(token.token)
    typer.echo(f"token #{token.id} '{token.name}' for {username}: keep it safe, it will not be shown again",
               err=True)


@tokens_app.command("list")
@_errors_to_exit
def tokens_list(username: str) -> None:
    """List a person's tokens (names and prefixes, never the tokens)."""
    services = _services()
    for token in services.auth.list_tokens(services.people.user_id(username)):
        state = "revoked" if token["revoked_at"] else "active"
        typer.echo(f"  #{token['id']:<4} {token['prefix']}…  {token['name']:<24} {state}")


@tokens_app.command("revoke")
@_errors_to_exit
def tokens_revoke(username: str, token_id: int) -> None:
    """Revoke one of a person's tokens."""
    services = _services()
    services.auth.revoke_token(services.people.user_id(username), token_id)
    typer.echo(f"token #{token_id} revoked")


timers_app = typer.Typer(help="Timers: content reviews, expiries, reminders, escalations.", no_args_is_help=True)
app.add_typer(timers_app, name="timers")


@timers_app.command("list")
@_errors_to_exit
def timers_list(due: Annotated[bool, typer.Option("--due", help="Only those due now.")] = False,
                status: Annotated[str, typer.Option(help="pending, running, done or cancelled.")] = "pending",
                limit: int = 50) -> None:
    """List timers by due time."""
    services = _services()
    now = services.clock.now()
    rows = services.timers.listing(status=status, due_before=now if due else None, limit=limit)
    for t in rows:
        late = "  (due)" if t.status == "pending" and t.due_at <= now else ""
        typer.echo(f"  {t.due_at:%Y-%m-%d %H:%M}  #{t.credential_id:<5} {t.action:<8} {t.key:<28} {t.title}{late}"
                   f"{'  ' + t.outcome if t.outcome else ''}")
    counts = services.timers.counts()
    typer.echo(f"({len(rows)} shown; {counts['due_now']} due now; by status: {counts['by_status']})")


@app.command("scheduler")
@_errors_to_exit
def scheduler(once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False) -> None:
    """Fire due timers: now and then every WORKFLOW_TIMER_POLL_SECONDS, until stopped (Ctrl-C or SIGTERM)."""
    import signal
    import threading

    from workflow.scheduler import Scheduler

    services = _services()
    runner = Scheduler(services.timers, interval=services.settings.timer_poll_seconds, digests=services.digests,
                       dispatcher=services.dispatcher)
    if once:
        typer.echo(f"handled {runner.tick()} timer(s)")
        return
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    runner.start()
    typer.echo(f"scheduler {services.timers.owner} polling every {runner.interval:g}s; Ctrl-C stops")
    stopped.wait()
    runner.shutdown()
    services.close()


@app.command("serve")
@_errors_to_exit
def serve(host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
          port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
          workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: WORKFLOW_WORKERS, "
                                                      "else 1 on SQLite and one per CPU on PostgreSQL).")] = None,
          ) -> None:
    """Run the HTTP service (API under /api/v1, docs at /docs) with uvicorn. SIGTERM or Ctrl-C stops it: no new
    connections, requests in flight finish (up to WORKFLOW_SHUTDOWN_SECONDS), then each worker's scheduler."""
    import os

    import uvicorn
    from sqlalchemy.engine import make_url

    settings = Settings()
    count = workers or settings.workers or settings.default_workers(os.cpu_count())
    if settings.is_sqlite and make_url(settings.effective_database_url).database in (None, "", ":memory:"):
        raise WorkflowError("an in-memory SQLite database lives and dies with one connection; serve a file "
                            "(WORKFLOW_DATA_DIR) or PostgreSQL (WORKFLOW_DATABASE_URL)")
    if settings.is_sqlite and count > 1:
        raise WorkflowError(f"{count} workers on SQLite: it takes one writer at a time, so more processes only wait "
                            "for each other's locks (approvals get slower, not faster); serve SQLite with one "
                            "worker, or move to PostgreSQL for more (README: Deployment)")
    services = Services.start(settings)  # migrate and check the definitions once, before any worker starts
    try:
        warning = connection_budget(services.database, settings, count)
    finally:
        services.close()
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    uvicorn.run("workflow.web.app:app_from_environment", factory=True, host=host or settings.host,
                port=port or settings.port, workers=count, proxy_headers=True, log_level="info",
                timeout_graceful_shutdown=settings.shutdown_seconds)


def connection_budget(database: Database, settings: Settings, workers: int) -> str | None:
    """A warning when ``workers`` processes could open more PostgreSQL connections than the server accepts."""
    if database.is_sqlite:
        return None
    from sqlalchemy import text

    with database.begin_read() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
        reserved = int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one())
    wanted = workers * settings.connections_per_process
    if wanted <= limit - reserved:
        return None
    return (f"{workers} worker(s) × {settings.connections_per_process} connections (3 × WORKFLOW_POOL_SIZE) = "
            f"{wanted}, more than the {limit - reserved} PostgreSQL accepts (max_connections {limit}); "
            "lower --workers or WORKFLOW_POOL_SIZE, or raise max_connections")


audit_app = typer.Typer(help="The tamper-evident history: check each credential's hash chain.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
@_errors_to_exit
def audit_verify(credential: Annotated[list[int] | None, typer.Option(
        "--credential", help="Only this credential (repeat for more); default: all.")] = None) -> None:
    """Check every event's hash and link and each credential's head; exit 1 naming each first broken link."""
    from workflow.services.audit import verify_database

    database = Database.from_settings(Settings())
    try:
        upgrade(database)
        report = verify_database(database, credential)
    finally:
        database.dispose()
    if report.ok:
        typer.echo(f"ok: {report.credentials} credentials, {report.events} events verified")
        return
    for cid in report.missing:
        typer.echo(f"error: there is no credential #{cid}", err=True)
    for finding in report.findings:
        typer.echo(str(finding))
    if not report.findings:
        raise typer.Exit(1)
    typer.echo(f"broken: {len(report.findings)} of {report.credentials} credentials "
               f"({report.events} events read)")
    raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="workflow")


if __name__ == "__main__":
    main()
