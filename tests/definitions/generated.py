"""Generated definitions of any size, for the validation benchmark and the tests of large definitions.

A chain of ``states`` states (a gate with a checklist every tenth one, a reminder timer on each gated state) with
``wildcards`` transitions whose source is ``*``: most lead to a final state of their own (withdrawn, cancelled,
...), one puts the credential on hold, from where ``resume`` returns to the state it came from.
"""

from __future__ import annotations


def generated_definition(states: int, wildcards: int | None = None) -> str:
    """The YAML text of a valid definition with about ``states`` states and ``wildcards`` ``*`` transitions
    (by default one for every ten states, at least three)."""
    wildcards = max(3, states // 10) if wildcards is None else wildcards
    chain = max(2, states - wildcards)  # the final states of the wildcards count among the states
    out = ["name: generated", "title: Generated lifecycle", "roles:", "  lead: {title: Initiative lead}",
           "  dean: {title: Dean}", "  registrar: {title: Registrar, kind: department}",
           "permissions: {create: [lead], edit: [lead]}", "states:"]
    for i in range(chain):
        marks = ", initial: true" if i == 0 else (", final: true" if i == chain - 1 else "")
        out.append(f"  s{i}: {{title: Step {i}, phase: Phase {i // 10}, planned_days: {1 + i % 30}{marks}}}")
    out.append("  on_hold: {title: On hold}")
    for k in range(wildcards - 1):
        out.append(f"  closed_{k}: {{title: Closed {k}, final: true}}")
    out.append("gates:")
    for i in range(0, chain - 1, 10):
        out += [f"  g{i}:", f"    title: Gate {i}", "    approvers: [{role: dean}]",
                f"    checklist: [{{key: item_{i}, owner: registrar, title: Item {i}}}]"]
    out.append("transitions:")
    for i in range(chain - 1):
        gate = f", gate: g{i}" if i % 10 == 0 else ""
        out.append(f"  - {{trigger: next_{i}, source: s{i}, dest: s{i + 1}{gate}}}")
    out.append("  - {trigger: hold, source: '*', dest: on_hold}")
    out.append("  - {trigger: resume, source: on_hold, dest: '@previous'}")
    for k in range(wildcards - 1):
        out.append(f"  - {{trigger: close_{k}, source: '*', dest: closed_{k}}}")
    out.append("timers:")
    for i in range(0, chain - 1, 10):
        out.append(f"  - {{key: remind_{i}, action: remind, state: s{i}, after: P14D, notify: [dean]}}")
    return "\n".join(out) + "\n"
