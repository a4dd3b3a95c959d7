"""What the engine decides on, read from the store: a credential's checklist entries of the current rounds, its
gate decisions (only those the hash chain accounts for: see :mod:`workflow.store.accounting`), and how many
people hold the roles that must all approve (each read only when the trigger asked about needs it); and its
pending timers, shown beside them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, bindparam, select

from workflow.engine import Decision, Engine, Facts
from workflow.services.access import AccessService
from workflow.store import lookups
from workflow.store.tables import TIMER

_CID: BindParameter[int] = bindparam("cid")
_NEXT_TIMERS = (select(TIMER.c.key, TIMER.c.timer, TIMER.c.action, TIMER.c.due_at, TIMER.c.state, TIMER.c.trigger)
                .where(TIMER.c.credential_id == _CID, TIMER.c.status == "pending").order_by(TIMER.c.due_at))


def current(entries: Iterable[Any], rounds: Mapping[str, int]) -> dict[str, Any]:
    """The entries of the current round of each item, by item key."""
    return {e.item_key: e for e in entries if e.round == rounds.get(e.item_key, 0)}


def current_entries(conn: Connection, row: Row[Any]) -> dict[str, Any]:
    """A credential's checklist entries of the current rounds, by item key."""
    return current(lookups.read_entries(conn, row.id), row.rounds)


def gather(engine: Engine, *, state: str, rounds: Mapping[str, int], data: dict[str, Any], previous: str | None,
           trigger: str | None, entries: Callable[[], Mapping[str, Any]], decisions: Callable[[], Iterable[Any]],
           holders: Callable[[set[str]], Mapping[str, int]],
           evidence: Callable[[], Mapping[str, str]] | None = None) -> Facts:
    """The engine's facts about a credential for ``trigger`` (or for every move out of ``state`` if None): the
    callables read the checklist, the decisions and the role holders, and are called only if needed."""
    needs_items, needs_gate = engine.needs(state, trigger)
    done: frozenset[str] = frozenset()
    if needs_items:
        done = frozenset(key for key, entry in entries().items() if entry.done)
    current_decisions: tuple[Decision, ...] = ()
    counted: dict[str, int] = {}
    shown: Mapping[str, str] = {}
    if needs_gate:
        shown = evidence() if evidence is not None else {}
        current_decisions = tuple(Decision(d.gate, d.role, d.actor, d.verdict, d.comment, d.principal,
                                           d.seen or None)
                                  for d in decisions() if d.round == rounds.get(d.gate, 0))
        everyone = {a.role for _, req in engine.requirements_from(state) if req.gate
                    for a in req.gate.approvers if a.policy == "all"}
        if everyone:
            counted = dict(holders(everyone))
    return Facts(state=state, data=data, done=done, decisions=current_decisions, previous_state=previous,
                 role_holders=counted, evidence=shown)


def row_facts(conn: Connection, access: AccessService, engine: Engine, row: Row[Any], trigger: str | None = None,
              *, entries: Mapping[str, Any] | None = None, decisions: Iterable[Any] | None = None) -> Facts:
    """The facts about a credential as its row stands (outside any action); ``entries`` and ``decisions`` when
    they were read already."""
    return gather(engine, state=row.state, rounds=row.rounds, data=row.data, previous=row.previous_state,
                  trigger=trigger,
                  entries=lambda: entries if entries is not None else current_entries(conn, row),
                  decisions=lambda: decisions if decisions is not None else lookups.read_decisions(conn, row.id),
                  holders=lambda roles: access.holders(conn, roles, row.id, row.org_unit_id, access.tree(conn)),
                  evidence=lambda: lookups.latest_evidence(lookups.read_evidence(conn, row.id)))


def next_timers(conn: Connection, credential_id: int) -> list[dict[str, Any]]:
    """The credential's pending timers, soonest first."""
    return [dict(t._mapping) for t in conn.execute(_NEXT_TIMERS, {"cid": credential_id})]
