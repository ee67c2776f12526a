"""Evaluation benchmark on ``digits``: domain classifier, then methods x seeds at equal compute.

1. ``stablegan classifier train --recipe digits --out OUT/digits_classifier.pt`` (its test
   accuracy is reported);
2. ``stablegan compare --recipe digits --methods M --seeds S --batches N --out OUT
   --set eval.classifier_path=OUT/digits_classifier.pt`` (each run's final eval.json holds the
   classifier-space metrics and their real-vs-real floors);
3. a markdown table of FID/KID/precision/recall/density/coverage (classifier features), class
   coverage and KL, IS, memorisation and pixel SWD, mean ± std over seeds, with the floor row,
   written to OUT/eval_digits.md and printed.

Rerunning resumes (the classifier is kept, compare skips finished runs).

    python benchmarks/bench_eval_digits.py --out runs/bench-eval-digits --batches 4000 \\
        --methods nsgan,wgan-gp,ppo-gan,ppo-gan-reweight,ppo-gan-clip --seeds 0,1,2 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = [  # (key, header, digits)
    ("fid/classifier", "FID", 2), ("kid/classifier", "KID", 2),
    ("precision/classifier", "precision", 3), ("recall/classifier", "recall", 3),
    ("density/classifier", "density", 3), ("coverage/classifier", "coverage", 3),
    ("class_coverage/classifier", "classes", 1), ("class_kl/classifier", "class KL", 3),
    ("is/classifier", "IS", 2), ("memorisation/classifier", "near-dup", 3),
    ("swd/pixels", "SWD px", 3),
]


def run(cmd: list[str]) -> str:
    print("$ " + shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    print(proc.stdout, end="")
    print(f"  ({time.perf_counter() - t0:.0f} s, exit {proc.returncode})", flush=True)
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    return proc.stdout


def cell(stat: dict | None, digits: int) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def table(summary: dict, classifier: dict) -> str:
    methods = summary["methods"]
    m = summary["metrics"]
    lines = ["| method | iterations | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|---|---:|" + "---:|" * len(COLUMNS)]
    for method in methods:
        lines.append(f"| {method} | {summary['steps'][method]} | "
                     + " | ".join(cell(m[method].get(k), d) for k, _, d in COLUMNS) + " |")
    first = m[methods[0]]
    lines.append("| *floor: real vs real* | – | " + " | ".join(
        cell(first.get(f"floor/{k}"), d) for k, _, d in COLUMNS) + " |")
    n_eval = first.get("n_eval", {}).get("mean")
    acc = classifier["test_accuracy"]
    hold = classifier.get("holdout_accuracy")
    return "\n".join(lines) + (
        f"\n\nDomain classifier: test accuracy {acc:.4f} (20% of the training split), "
        + (f"{hold:.4f} on the {classifier['holdout_items']} held-out digits, " if hold else "")
        + f"{classifier['epochs']} epochs, {classifier['seconds']:.1f} s. Metrics on "
        f"{n_eval:.0f} generated samples against {n_eval:.0f} training digits; the floor row "
        "compares the other, disjoint half of the training digits instead (same sample size). "
        "near-dup: share of generated samples closer to a training digit than the 1st "
        "percentile of train-to-train nearest-neighbour distances (floor: held-out digits).\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench-eval-digits")
    ap.add_argument("--batches", type=int, default=4000)
    ap.add_argument("--methods", default="nsgan,wgan-gp,ppo-gan")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=20, help="classifier epochs")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clf = out / "digits_classifier.pt"
    t0 = time.perf_counter()
    if not clf.is_file():
        run([sys.executable, "-m", "stablegan", "classifier", "train", "--recipe", "digits",
             "--epochs", str(args.epochs), "--out", str(clf)])
    classifier = json.loads(clf.with_suffix(".json").read_text())
    run([sys.executable, "-m", "stablegan", "compare", "--recipe", "digits",
         "--methods", args.methods, "--seeds", args.seeds, "--batches", str(args.batches),
         "--jobs", str(args.jobs), "--out", str(out), "--set", f"eval.classifier_path={clf}"])
    summary = json.loads((out / "summary.json").read_text())
    text = table(summary, classifier)
    (out / "eval_digits.md").write_text(text)
    print(text)
    print(f"total wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
