"""Which chained event accounts for each row that guards read: every gate decision and checklist entry records
the ``seq`` of the event that wrote it, and that event's details carry what the row holds; the credential's data
is vouched for by the digest the event that last changed it carries (``data_digest``).

Rows present when the database was upgraded to schema 0010 point at the credential's ``fold`` event instead,
which carries each such row's digest (:func:`workflow.store.frozen.row_digest`) and the data's.

A row whose event is missing or says otherwise is not a fact: actions do not count it
(:mod:`workflow.store.lookups`) and ``workflow audit verify`` names it (:mod:`workflow.services.audit`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from workflow.store.frozen import _plain, data_digest, row_digest

__all__ = ["DATA_DIGEST", "FOLD", "Fault", "data_digest", "decision_details", "decision_fault", "entry_details",
           "entry_fault", "evidence_details", "evidence_fault", "row_digest", "same"]

FOLD = "fold"
"""The event kind that vouches for the rows and data present at an upgrade (see migration 0010)."""

DATA_DIGEST = "data_digest"
"""The key of the details that carries the digest of the credential's whole data after the event."""

DECISION = "gate_decision"
ENTRY = "checklist_entry"
EVIDENCE = "evidence_document"
KIND = {DECISION: "decision", ENTRY: "checklist", EVIDENCE: "evidence"}
EVIDENCE_FIELDS = ("target", "version", "filename", "content_type", "size", "sha256", "link")
"""What an evidence event carries of its ``evidence_document`` row (the actor is the event's own)."""


def decision_details(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a decision event carries of its ``gate_decision`` row (the actor and comment are the event's own)."""
    details = {"gate": row["gate"], "round": row["round"], "role": row["role"], "principal": row["principal"],
               "verdict": row["verdict"], "seen": row["seen"] or {}}
    if row["principal"] != row["actor"]:
        details["on_behalf_of"] = row["principal"]
    return details


def entry_details(row: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """What a checklist event carries of its ``checklist_entry`` row (the actor and note are the event's own)."""
    return {"item": row["item_key"], "round": row["round"], "done": row["done"], "owner": owner}


def evidence_details(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an evidence event carries of its ``evidence_document`` row: the file's SHA-256 among them, so the
    chain vouches for the bytes stored."""
    return {name: row[name] for name in EVIDENCE_FIELDS}


class Fault(NamedTuple):
    """Why the chain does not account for a row: ``inserted`` (no event accounts for it) or ``edited`` (it
    differs from the event that does)."""

    reason: str
    message: str


def same(one: Any, other: Any) -> bool:
    """Whether two stored values are equal as the digests see them (a whole float equals its integer)."""
    return bool(one == other or _plain(one) == _plain(other))  # (Python's == already takes 40 for 40.0)


def _differs(row: Mapping[str, Any], pairs: Mapping[str, Any]) -> list[str]:
    return [name for name, said in pairs.items() if not same(row[name], said)]


def _fault(table: str, row: Mapping[str, Any], event: Mapping[str, Any] | None,
           pairs: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]) -> Fault | None:
    seq = row.get("seq")
    if seq is None:
        return Fault("inserted", "no event accounts for it")
    if event is None:
        return Fault("inserted", f"the event it names ({seq}) does not exist")
    details = event.get("details") or {}
    if event["kind"] == FOLD:
        vouched = (details.get(table) or {}).get(str(row["id"]))
        if vouched is None:
            return Fault("inserted", f"event {seq} (the upgrade's) does not account for it")
        if vouched.get("digest") != row_digest(table, row):
            return Fault("edited", f"it differs from what event {seq} recorded of it at the upgrade")
        return None
    if event["kind"] != KIND[table]:
        return Fault("inserted", f"event {seq} is a {event['kind']} event, not a {KIND[table]}")
    different = _differs(row, pairs(event, details))
    if different:
        return Fault("edited", f"its {', '.join(different)} differ{'s' if len(different) == 1 else ''} from "
                               f"event {seq}")
    return None


def _decision_pairs(event: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    return {"gate": details.get("gate"), "round": details.get("round"), "role": details.get("role"),
            "actor": event["actor"], "principal": details.get("principal"), "verdict": details.get("verdict"),
            "comment": event["comment"], "seen": details.get("seen")}


def _entry_pairs(event: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    return {"item_key": details.get("item"), "round": details.get("round"), "done": details.get("done"),
            "note": event["comment"], "actor": event["actor"]}


def _evidence_pairs(event: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    return {name: details.get(name) for name in EVIDENCE_FIELDS} | {"actor": event["actor"]}


def evidence_fault(row: Mapping[str, Any], event: Mapping[str, Any] | None) -> Fault | None:
    """Why the chain does not account for an evidence row (None if it does); as :func:`decision_fault`."""
    return _fault(EVIDENCE, row, event, _evidence_pairs)


def decision_fault(row: Mapping[str, Any], event: Mapping[str, Any] | None) -> Fault | None:
    """Why the chain does not account for a decision row (None if it does). ``row``: its columns with ``id`` and
    ``seq``; ``event``: the event at that seq (``kind``, ``actor``, ``comment``, ``details``), None if there is none."""
    return _fault(DECISION, {**row, "seen": row["seen"] or {}}, event, _decision_pairs)


def entry_fault(row: Mapping[str, Any], event: Mapping[str, Any] | None) -> Fault | None:
    """Why the chain does not account for a checklist entry (None if it does); as :func:`decision_fault`."""
    return _fault(ENTRY, {**row, "done": bool(row["done"])}, event, _entry_pairs)
