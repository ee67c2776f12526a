"""Issue 22's evidence: per-class evaluation of a `stablegan compare` run on digits, and its table.

The comparison itself (10 classes, 3 seeds, equal minibatch updates of all networks)::

    nice -n 10 stablegan compare --recipe digits --seeds 0,1,2 --batches 4000 --jobs 1 \\
        --evals 2 --methods nsgan,cgan-pd,acgan,cgan-ppo,cgan-ppo+conditional.reweight=batch \\
        --out /work/bench/cond/digits

Then, for every finished run, this script evaluates the final (EMA) generator with the domain
classifier (FID, precision, recall and, for conditional runs, class accuracy, intra-class FID,
per-class coverage and the misassigned-class flag) into ``RUN/eval_conditional.json``, draws
the class-by-row grid of seed 0 of each method into ``--img`` and prints a markdown table
(mean +- std over seeds)::

    python benchmarks/conditional_digits.py /work/bench/cond/digits --img docs/img
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch

COLUMNS = [("class_accuracy/classifier", "class acc."), ("intra_fid/classifier", "intra-FID"),
           ("fid/classifier", "FID"), ("precision/classifier", "precision"),
           ("recall/classifier", "recall"), ("intra_coverage/classifier", "intra-coverage")]


def evaluate_run(run: Path, n: int) -> dict[str, Any]:
    out = run / "eval_conditional.json"
    if out.is_file() and out.stat().st_mtime > (run / "checkpoints" / "last.pt").stat().st_mtime:
        return json.loads(out.read_text())
    from stablegan.training.trainer import load_run

    trainer = load_run(str(run), "last.pt")
    result = {"step": trainer.step, **trainer.evaluate(n, final=True)}
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def grid(run: Path, path: Path) -> None:
    from stablegan.cli import class_latents
    from stablegan.training.trainer import load_run

    trainer = load_run(str(run), "last.pt")
    torch.manual_seed(0)
    z, n, what = class_latents(trainer, None, None)
    x = trainer.sample(n, z=z)
    trainer.task.render(x, path, title=f"{run.parent.name}, seed 0{what}")


def fmt(vals: list[float]) -> str:
    vals = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:.3g}"
    return f"{statistics.mean(vals):.3g} ± {statistics.stdev(vals):.2g}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("compare_dir", type=Path)
    p.add_argument("--img", type=Path)
    p.add_argument("--n", type=int, default=1000)
    args = p.parse_args()
    rows, all_results = [], []
    for method_dir in sorted(p for p in args.compare_dir.iterdir() if p.is_dir()):
        results, flagged = [], []
        for run in sorted(method_dir.glob("seed*")):
            if not (run / "eval.json").is_file():
                continue  # not finished
            res = evaluate_run(run, args.n)
            results.append(res)
            all_results.append(res)
            if isinstance(res.get("misassigned"), str):
                flagged.append(f"{run.name}: {res['misassigned']}")
            if args.img is not None and run.name == "seed0":
                args.img.mkdir(parents=True, exist_ok=True)
                grid(run, args.img / f"cond-digits-{method_dir.name}.png")
        if results:
            rows.append((method_dir.name, len(results),
                         [fmt([r.get(k, float("nan")) for r in results]) for k, _ in COLUMNS],
                         "; ".join(flagged) or "–"))
    floor = next((r for r in all_results if "floor/class_accuracy/classifier" in r), None)
    if floor is not None:  # what a perfect generator scores: held reals against the reference
        rows.append(("real vs real (floor)", 1,
                     [fmt([floor.get(f"floor/{k}", float("nan"))]) for k, _ in COLUMNS], "–"))
    print("| method | seeds | " + " | ".join(c for _, c in COLUMNS) + " | misassigned |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for name, n, cells, flag in rows:
        print(f"| {name} | {n} | " + " | ".join(cells) + f" | {flag} |")


if __name__ == "__main__":
    main()
