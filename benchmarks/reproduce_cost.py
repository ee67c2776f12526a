"""CPU cost of `stablegan reproduce` at the paper's sizes: per-iteration time of each method of a
table (a few iterations, one torch thread, the same probe `reproduce` runs before a table), and
each table's wall time projected from it with `reproduce`'s own plan arithmetic.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=. python benchmarks/reproduce_cost.py \
        --tables oracle20 --iters 1 --cores 2 --json runs/reproduce-cost.json

On a shared machine wall time measures the other jobs too, so here the trainer's per-step clock
(`time/sec`, which `reproduce`'s probe reads) is the calling thread's CPU time
(`time.thread_time`; one torch thread, so every op runs on it): what a step costs with a core
to itself. `fixed` (data, networks, the final evaluation) stays wall time and is an upper bound.
The projection deals the table's runs to `--cores` slots (one run per core, `reproduce`'s CPU
packing). A table whose data are not on this machine is reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import stablegan.training.trainer as trainer_module
from stablegan.compare import method_overrides
from stablegan.errors import StableganError
from stablegan.reproduce.plan import Cost, build_runs, duration, estimate
from stablegan.reproduce.probe import probe, startup_seconds
from stablegan.reproduce.run import check_data, table_settings
from stablegan.reproduce.tables import TABLES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_name  # noqa: E402


def _write(path: str | None, report: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tables", nargs="+", default=["oracle20"], choices=list(TABLES))
    ap.add_argument("--iters", type=int, default=2, help="timed steps per phase (+1 warm-up)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                    help="cores of the machine the projection is for (one run each)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--methods", nargs="*", help="probe only these method specs of the table(s)")
    ap.add_argument("--merge", nargs="*", default=[], metavar="JSON",
                    help="earlier reports (--json) whose costs stand in for methods not probed")
    ap.add_argument("--json", help="write the measurements here too (after every method)")
    args = ap.parse_args()
    earlier: dict[str, dict] = {}
    for f in args.merge:
        for name, entry in json.loads(Path(f).read_text())["tables"].items():
            earlier.setdefault(name, {}).update(entry.get("costs", {}))
    # the trainer's step clock, and only it, reads this thread's CPU time
    trainer_module.time = SimpleNamespace(perf_counter=time.thread_time)  # type: ignore[assignment]
    report: dict = {"machine": f"{cpu_name()}, {os.cpu_count()} cores visible",
                    "load_before": os.getloadavg(), "iters": args.iters, "tables": {}}
    startup = startup_seconds()
    report["startup_seconds"] = startup
    for name in args.tables:
        table = TABLES[name]
        common, _ = table_settings(table, False, [*args.overrides, "device=cpu"])
        try:
            check_data(table, common)
        except StableganError as err:
            print(f"{name}: skipped ({err.message})", file=sys.stderr)
            report["tables"][name] = {"skipped": err.message}
            continue
        specs = [r.spec for r in table.rows if r.spec]
        costs, rows = {}, {}
        for spec in specs:
            if args.methods is not None and spec not in args.methods:
                if spec in earlier.get(name, {}):
                    rows[spec] = earlier[name][spec]
                    costs[spec] = Cost(**rows[spec])
                    print(f"{name} {spec:24s} {costs[spec].step:8.2f} CPU s / iteration "
                          "(from --merge)", flush=True)
                continue
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    c = probe(table.recipe, [*common, *method_overrides(spec)],
                              table.pretrain.key if table.pretrain else None, Path(tmp),
                              args.iters, startup)
                except StableganError as err:  # e.g. a data file missing only at load time
                    print(f"{name}: skipped ({err.message})", file=sys.stderr)
                    report["tables"][name] = {"skipped": err.message}
                    break
            costs[spec] = c
            rows[spec] = c.to_dict()
            report["tables"][name] = {"costs": rows}
            _write(args.json, report)
            print(f"{name} {spec:24s} {c.step:8.2f} CPU s / iteration; pre-training "
                  f"{c.pretrain_step:.3f} CPU s / step; fixed {c.fixed:.0f} s wall; CPU share "
                  f"{c.cpu_fraction:.2f}; peak {c.peak_mib:,.0f} MiB", flush=True)
        else:
            if set(costs) != set(specs):
                print(f"{name}: no projection, costs missing for "
                      f"{', '.join(sorted(set(specs) - set(costs)))}", flush=True)
                continue
            labels = [r.label for r in table.rows]
            runs = build_runs(table, labels, list(table.seeds), Path("runs"), table.steps,
                              table.pretrain.steps if table.pretrain else 0)
            wall = estimate(runs, costs, args.cores)
            report["tables"][name] = {"costs": rows, "projected": wall,
                                      "runs": len(runs), "cores": args.cores}
            print(f"{name}: {len(runs)} runs, projected {duration(wall['total'])} on "
                  f"{args.cores} cores (pre-training {duration(wall['pretrain'])}, methods "
                  f"{duration(wall['method'])}; {duration(wall['serial'])} on one core)",
                  flush=True)
    report["load_after"] = os.getloadavg()
    _write(args.json, report)
    print(json.dumps({k: v for k, v in report.items() if k != "tables"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
