"""Tabulate benchmarks/style.sh: eval.json of each run -> summary.md, tradeoff.png, samples.md.

Ten transferred sentences per direction, picked from the 1,000 test sentences by a fixed seed
(0), are written for the run named by --samples (default: nsgan-w1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from stablegan.metrics.style import plot_tradeoff


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--samples", default="nsgan-w1")
    args = ap.parse_args()
    out = Path(args.out)
    rows, points = [], []
    for ev in sorted(out.glob("*/eval.json")):
        name = ev.parent.name
        r = json.loads(ev.read_text())
        rows.append((name, r))
        if name.startswith("nsgan-w"):
            points.append({**r, "weight": float(name[len("nsgan-w"):]), "method": "nsgan"})
    keys = ("style_accuracy", "own_accuracy", "bleu_ref", "content_bleu", "geo_mean")
    lines = ["| run | " + " | ".join(keys) + " | eval CNN held-out acc |",
             "|---|" + "---|" * (len(keys) + 1)]
    for name, r in rows:
        lines.append(f"| {name} | " + " | ".join(f"{100 * r[k]:.1f}" for k in keys)
                     + f" | {100 * r['style_classifier_holdout_accuracy']:.1f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if points:
        plot_tradeoff(points, out / "tradeoff.png")
        print(f"written: {out / 'tradeoff.png'}")
    run = out / args.samples
    if (run / "checkpoints" / "last.pt").is_file():
        import subprocess

        data = Path(os.environ.get("STABLEGAN_SHARED_DATA", "../shared/data"))
        text = (data / "text/yelp/sentiment.manual.text").read_text().splitlines()
        labels = (data / "text/yelp/sentiment.manual.labels").read_text().split()
        md = []
        for label, to in (("0", "1"), ("1", "0")):
            idx = [i for i, y in enumerate(labels) if y == label]
            pick = sorted(random.Random(0).sample(idx, 10))
            inp = out / f"pick_{label}.txt"
            inp.write_text("\n".join(text[i] for i in pick) + "\n")
            res = subprocess.run([sys.executable, "-m", "stablegan", "transfer", "--run",
                                  str(run), "--input", str(inp), "--to", to],
                                 capture_output=True, text=True, check=True)
            md.append(f"\n{label} -> {to} ({args.samples}):\n")
            md.extend(f"- {text[i].strip()} => {o}" for i, o in zip(pick,
                                                                   res.stdout.splitlines()))
        (out / "samples.md").write_text("\n".join(md) + "\n")
        print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
