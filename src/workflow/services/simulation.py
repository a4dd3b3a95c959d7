"""Simulation against the organisation as it is: who holds which role, read from the database, handed to the pure
:func:`workflow.definitions.simulate.simulate`."""

from __future__ import annotations

from sqlalchemy import func, select

from workflow.definitions.model import Definition
from workflow.definitions.simulate import Simulation, simulate
from workflow.store.database import Database
from workflow.store.people import ASSIGNMENT, USER


def role_holders(database: Database) -> dict[str, int]:
    """How many active people hold each role for some org unit (roles given on one credential's team are not
    counted: they exist only on that credential)."""
    with database.begin_read() as conn:
        rows = conn.execute(select(ASSIGNMENT.c.role, func.count(ASSIGNMENT.c.user_id.distinct()))
                            .join(USER, USER.c.id == ASSIGNMENT.c.user_id)
                            .where(USER.c.active.is_(True), ASSIGNMENT.c.org_unit_id.is_not(None))
                            .group_by(ASSIGNMENT.c.role))
        return {role: int(count) for role, count in rows}


def enough_of_everyone(definition: Definition) -> dict[str, int]:
    """An organisation in which every role of ``definition`` is held by as many people as any gate asks for."""
    needs = {role: 1 for role in definition.roles}
    for gate in definition.gates.values():
        for approver in gate.approvers:
            needs[approver.role] = max(needs.get(approver.role, 1), approver.n or 1)
    return needs


def simulate_in_organisation(database: Database, definition: Definition) -> Simulation:
    """:func:`simulate` ``definition`` with the people who hold roles in the database now."""
    return simulate(definition, role_holders(database))
