"""Tabulate benchmarks/style.sh: OUT/summary.md, OUT/tradeoff.png, OUT/samples.md.

* the comparison: objective x seed runs (``OBJECTIVE-sSEED``), mean ± std (sample std, ddof 1)
  over seeds of every style metric (x100), and the per-seed rows, with the latent adversary
  each ran with (``style.adversary`` in its config.yaml) and its ``adversary/accuracy`` (mean of
  the last 5 logged rows; style adversary only);
* ``z_style_accuracy`` (the probe of z, chance 50) from eval.json, or for runs evaluated before
  that metric existed from ``RUN/probe.json`` (``benchmarks/style_probe.py``);
* the autoencoders (``ae-sSEED``, ``ae-noatt-s0``): the same metrics of the untrained transfer
  (a copy machine) and the teacher-forced reconstruction cross-entropy (nats/token, mean of the
  last 5 logged steps);
* the sweep of ``style.style_weight`` (``sweep-wW-sSEED`` and the nsgan run of that seed at the
  recipe's weight 1) -> tradeoff.png;
* ten transferred sentences per direction, picked among the 1,000 test sentences by
  ``random.Random(0)``, from ``--samples RUN`` (default: seed 0 of the objective with the highest
  mean geometric mean), written by ``stablegan transfer``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
from pathlib import Path

from stablegan.metrics.style import plot_tradeoff

KEYS = ("style_accuracy", "own_accuracy", "bleu_ref", "content_bleu", "geo_mean",
        "z_style_accuracy")
OBJECTIVES = ("nsgan", "wgan-gp", "ppo-gan", "softmax", "prior")


def last_logged(run: Path, key: str, n: int = 5) -> float:
    """Mean of the last ``n`` logged values of ``key`` (nan if never logged)."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        return float("nan")
    values = [r[key] for r in map(json.loads, path.read_text().splitlines()) if key in r]
    return statistics.fmean(values[-n:]) if values else float("nan")


def adversary(run: Path) -> str:
    """The run's style.adversary (config.yaml; runs from before the key: prior)."""
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text()) or {}
    return str((cfg.get("style") or {}).get("adversary", "prior"))


def load(run: Path) -> dict:
    r = {**json.loads((run / "eval.json").read_text()), "wall": wall_minutes(run),
         "adversary": adversary(run), "adv_acc": last_logged(run, "adversary/accuracy")}
    probe = run / "probe.json"
    if "z_style_accuracy" not in r and probe.is_file():
        r.update(json.loads(probe.read_text()))
    r.setdefault("z_style_accuracy", float("nan"))
    return r


def rec_loss(run: Path) -> float:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    rec = [r["loss/rec"] for r in rows if "loss/rec" in r]
    return statistics.fmean(rec[-5:]) if rec else float("nan")


def mean_std(values: list[float]) -> str:
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * m:.1f} ± {100 * s:.1f}"


def wall_minutes(run: Path) -> float:
    """From the run's config.yaml (written at the start) to its eval.json (the end)."""
    return ((run / "eval.json").stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60


def table(rows: list[tuple[str, dict]], extra: str = "") -> list[str]:
    out = ["| run | adversary | " + " | ".join(KEYS)
           + f" | adversary/accuracy | eval CNN held-out acc | wall min |{extra}",
           "|---|---|" + "---|" * (len(KEYS) + 3 + bool(extra))]
    for name, r in rows:
        more = f" {r['rec']:.3f} |" if extra else ""
        acc = r.get("adv_acc", float("nan"))
        out.append(f"| {name} | {r.get('adversary', '')} | "
                   + " | ".join(f"{100 * r[k]:.1f}" for k in KEYS)
                   + f" | {'–' if acc != acc else f'{100 * acc:.1f}'} | "
                   f"{100 * r['style_classifier_holdout_accuracy']:.1f} | "
                   f"{r.get('wall', float('nan')):.1f} |{more}")
    return out


def samples(out: Path, run: Path, name: str) -> list[str]:
    data = Path(os.environ.get("STABLEGAN_SHARED_DATA", "../shared/data")) / "text" / "yelp"
    text = (data / "sentiment.manual.text").read_text().splitlines()
    labels = (data / "sentiment.manual.labels").read_text().split()
    md = []
    for label, to in (("0", "1"), ("1", "0")):
        idx = [i for i, y in enumerate(labels) if y == label]
        pick = sorted(random.Random(0).sample(idx, 10))
        inp = out / f"pick_{label}.txt"
        inp.write_text("\n".join(text[i] for i in pick) + "\n")
        res = subprocess.run([sys.executable, "-m", "stablegan", "transfer", "--run", str(run),
                              "--input", str(inp), "--to", to],
                             capture_output=True, text=True, check=True)
        md.append(f"\n{label} -> {to} ({name}; test lines {', '.join(str(i + 1) for i in pick)}):"
                  "\n")
        md.extend(f"- {text[i].strip()} => {o}" for i, o in zip(pick, res.stdout.splitlines()))
    return md


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--samples", default=None, help="run directory name (default: see above)")
    args = ap.parse_args()
    out = Path(args.out)
    runs = {ev.parent.name: load(ev.parent) for ev in sorted(out.glob("*/eval.json"))}
    lines: list[str] = []
    by_obj: dict[str, list[tuple[int, dict]]] = {}
    for name, r in runs.items():
        m = re.fullmatch(r"(.+)-s(\d+)", name)
        if m and m.group(1) in OBJECTIVES:
            by_obj.setdefault(m.group(1), []).append((int(m.group(2)), r))
    lines += ["## Objectives (mean ± std over seeds, x100)", "",
              "| objective | adversary | seeds | " + " | ".join(KEYS) + " |",
              "|---|---|---|" + "---|" * len(KEYS)]
    best, best_geo = None, -1.0
    for obj in OBJECTIVES:
        rs = sorted(by_obj.get(obj, []), key=lambda t: t[0])
        if not rs:
            continue
        advs = "/".join(sorted({r["adversary"] for _, r in rs}))
        lines.append(f"| {obj} | {advs} | {','.join(str(s) for s, _ in rs)} | "
                     + " | ".join(mean_std([r[k] for _, r in rs]) for k in KEYS) + " |")
        geo = statistics.fmean(r["geo_mean"] for _, r in rs)
        if geo > best_geo and f"{obj}-s0" in runs:
            best, best_geo = f"{obj}-s0", geo
    lines += ["", "## Every run", ""]
    lines += table([(n, r) for n, r in runs.items() if not n.startswith(("ae", "sweep"))])
    ae = [(n, {**r, "rec": rec_loss(out / n), "adversary": "–"}) for n, r in runs.items()
          if n.startswith("ae")]
    if ae:
        lines += ["", "## Autoencoders alone (before the adversarial phase)", ""]
        lines += table(ae, " reconstruction CE (nats/token) |")
    points = []
    for name, r in runs.items():
        m = re.fullmatch(r"sweep-w([0-9.]+)-s(\d+)", name)
        if m:
            points.append({**r, "weight": float(m.group(1)), "method": "nsgan"})
            base = f"nsgan-s{m.group(2)}"
            if base in runs and not any(p["weight"] == 1.0 for p in points):
                points.append({**runs[base], "weight": 1.0, "method": "nsgan"})
    if points:
        points.sort(key=lambda p: p["weight"])
        lines += ["", "## Sweep of style.style_weight (nsgan, one seed)", ""]
        lines += table([(f"style_weight={p['weight']:g}", p) for p in points])
        plot_tradeoff(points, out / "tradeoff.png")
        lines.append(f"\nwritten: {out / 'tradeoff.png'}")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    name = args.samples or best
    if name and (out / name / "checkpoints" / "last.pt").is_file():
        md = samples(out, out / name, name)
        (out / "samples.md").write_text("\n".join(md) + "\n")
        print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
