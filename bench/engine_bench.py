"""Micro-benchmark: our engine's guarded transition against a bare ``transitions`` machine.

Not a test. Run it from the repository root::

    .venv/bin/python bench/engine_bench.py            # full run (~20k operations per case and round)
    .venv/bin/python bench/engine_bench.py --quick    # short smoke run

Cases, measured interleaved in the same process (the order of the cases rotates from round to round):

(a) bare    a ``transitions.Machine(model=None, ...)`` with the same states and edges as the micro-credential
            definition and no conditions, firing ``approve_feasibility`` from ``feasibility`` via
            ``machine.events[name].trigger(model)`` on a tiny slotted model (its state is reset before each
            trigger);
(b) fire    ``Engine(definition).fire(facts, "approve_feasibility")`` with facts in which every guard holds
            (every checklist item of the transition done, every required field filled, a dean's approval);
(c) options ``Engine.options(facts)`` for ``review`` (five transitions out: two gates, expiry, hold, withdraw);
(d) guards  ``Requirements.unmet(facts)`` of ``approve_feasibility`` alone (what (b) spends on guards).

Each figure is the median, over the rounds, of the mean time per operation within a round. The garbage collector
is off while a batch is timed (as :mod:`timeit` does) and runs between batches.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import transitions
from transitions import Machine

from workflow.definitions.graph import edges
from workflow.definitions.loader import load_definition
from workflow.engine import Decision, Engine, Facts

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "definitions" / "microcredential.yaml"
TRIGGER = "approve_feasibility"
SOURCE = "feasibility"
OPTIONS_STATE = "review"
TARGET_RATIO = 3.0


class _Model:
    """The smallest model the bare machine can move."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def bare_machine(engine: Engine) -> Machine:
    """A machine with the definition's states and concrete edges (same as the engine's), without conditions."""
    specs = [{"trigger": e.trigger, "source": e.source, "dest": e.dest} for e in edges(engine.definition)]
    return Machine(model=None, states=list(engine.definition.states), initial=engine.initial, transitions=specs,
                   auto_transitions=False, send_event=True)


def _filled(engine: Engine) -> dict[str, object]:
    """Data with every field of the definition filled in with a valid, non-blank value."""
    values: dict[str, object] = {}
    for name, field in engine.definition.fields.items():
        kind = field.type
        if kind == "boolean":
            values[name] = False
        elif kind in ("integer", "number"):
            values[name] = 12
        elif kind == "date":
            values[name] = "2030-01-01"
        elif kind == "list":
            values[name] = ["an outcome"]
        elif kind == "choice":
            values[name] = field.options[0]
        else:
            values[name] = f"some {name}"
    return values


def passing_facts(engine: Engine, trigger: str, source: str) -> Facts:
    """Facts in ``source`` under which every guard of ``trigger`` holds (all items, fields and approvals)."""
    index = next(i for i, t in enumerate(engine.definition.transitions) if t.trigger == trigger)
    requirements = engine.requirements[index]
    data = _filled(engine)
    done = frozenset(item.key for item in requirements.items)
    decisions = tuple(Decision(requirements.gate_id, approver.role, f"{approver.role}_{n}", "approve")
                      for approver in requirements.approvers_for(data) for n in range(approver.n or 1)
                      if requirements.gate_id is not None)
    facts = Facts(state=source, data=data, done=done, decisions=decisions)
    unmet = requirements.unmet(facts)
    if unmet:
        raise SystemExit(f"benchmark set-up: guards of {trigger!r} do not hold: {unmet}")
    return facts


def options_facts(engine: Engine, state: str) -> Facts:
    """Facts in ``state`` with half of each outgoing transition's items done and one decision per gate."""
    data = _filled(engine)
    done: set[str] = set()
    decisions: list[Decision] = []
    for _trigger, requirements in engine.requirements_from(state):
        done.update(item.key for item in requirements.items[::2])
        if requirements.gate_id is not None:
            decisions.append(Decision(requirements.gate_id, "dean", "dean_1", "approve"))
    return Facts(state=state, data=data, done=frozenset(done), decisions=tuple(decisions), previous_state="delivery")


def _time_batch(op: Callable[[], object], iterations: int) -> float:
    """Mean nanoseconds per call of ``op`` over ``iterations`` calls."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(iterations):
            op()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return elapsed / iterations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (3 rounds of 2,000 operations)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 7, quick 3)")
    parser.add_argument("--iterations", type=int, help="operations per case and round (default 20000, quick 2000)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    iterations = args.iterations or (2_000 if args.quick else 20_000)

    engine = Engine(load_definition(DEFINITION).definition)
    machine = bare_machine(engine)
    fire_facts = passing_facts(engine, TRIGGER, SOURCE)
    opt_facts = options_facts(engine, OPTIONS_STATE)
    index = next(i for i, t in enumerate(engine.definition.transitions) if t.trigger == TRIGGER)
    requirements = engine.requirements[index]

    event = machine.events[TRIGGER]
    model = _Model(SOURCE)
    expected_dest = engine.fire(fire_facts, TRIGGER).dest

    def bare() -> object:
        model.state = SOURCE
        return event.trigger(model)

    def fire() -> object:
        return engine.fire(fire_facts, TRIGGER)

    def options() -> object:
        return engine.options(opt_facts)

    def guards() -> object:
        return requirements.unmet(fire_facts)

    # Sanity: both really perform the transition.
    if not bare() or model.state != expected_dest:
        raise SystemExit(f"bare machine did not move {SOURCE} → {expected_dest} (state {model.state!r})")
    if len(engine.options(opt_facts)) < 2:
        raise SystemExit(f"state {OPTIONS_STATE!r} has fewer than two transitions out")

    cases: dict[str, Callable[[], object]] = {"bare": bare, "fire": fire, "options": options, "guards": guards}
    labels = {
        "bare": f"(a) bare transitions: events[{TRIGGER!r}].trigger(model)",
        "fire": f"(b) Engine.fire(facts, {TRIGGER!r})  [guards + transition]",
        "options": f"(c) Engine.options(facts) in {OPTIONS_STATE!r} ({len(engine.options(opt_facts))} transitions)",
        "guards": f"(d) Requirements.unmet(facts) of {TRIGGER!r} alone",
    }
    names = list(cases)

    print(f"engine_bench: Python {platform.python_version()} ({sys.implementation.name}), "
          f"transitions {transitions.__version__}")
    print(f"definition {DEFINITION.relative_to(ROOT)}: {len(engine.definition.states)} states, "
          f"{len(edges(engine.definition))} concrete edges; "
          f"{len(requirements.items)} checklist items, {len(requirements.fields)} required fields and "
          f"{len(fire_facts.decisions)} approval(s) checked by {TRIGGER!r}")
    print(f"{rounds} rounds x {iterations:,} operations per case, cases interleaved; GC off while timing")

    for op in cases.values():  # warm-up
        _time_batch(op, max(iterations // 10, 200))

    per_round: dict[str, list[float]] = {name: [] for name in names}
    ratios: list[float] = []
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            per_round[name].append(_time_batch(cases[name], iterations))
        ratios.append(per_round["fire"][-1] / per_round["bare"][-1])
        print(f"  round {r + 1}: " + ", ".join(f"{n} {per_round[n][-1] / 1000:.2f} µs" for n in names)
              + f"; fire/bare {ratios[-1]:.2f}x")

    median = {name: statistics.median(values) / 1000 for name, values in per_round.items()}
    spread = {name: (min(values) / 1000, max(values) / 1000) for name, values in per_round.items()}
    print()
    print(f"{'case':<74} {'median µs/op':>12} {'min..max':>15}")
    for name in names:
        low, high = spread[name]
        print(f"{labels[name]:<74} {median[name]:>12.2f} {f'{low:.2f}..{high:.2f}':>15}")
    ratio = median["fire"] / median["bare"]
    print()
    print(f"engine/bare ratio (fire vs bare, medians): {ratio:.2f}x   "
          f"(median of per-round ratios {statistics.median(ratios):.2f}x)   target: engine <= {TARGET_RATIO:g}x bare"
          f"  -> {'MET' if ratio <= TARGET_RATIO else 'MISSED'}")
    print(f"guards share of fire: {median['guards'] / median['fire']:.0%}; "
          f"options in {OPTIONS_STATE!r} = {median['options'] / median['bare']:.2f}x one bare trigger")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
