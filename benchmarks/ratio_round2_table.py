"""Tables for docs/benchmarks.md, "Ratio clipping, second round", from `stablegan compare` output.

    python benchmarks/ratio_round2_table.py OUT/round2-ring [OUT/round2-grid ...]
    python benchmarks/ratio_round2_table.py --merge OUT/round2-grid-s0 OUT/round2-grid-s1 ...
      (one table over compares that ran the same methods one seed each)

Per method: the final evaluation (mean ± std over seeds, and the per-seed values of modes and HQ;
on images FID, class KL, coverage, precision, recall in the classifier's space and pixel SWD)
and, from each run's metrics.jsonl, the mean over all logged iterations of the ratio diagnostics
(clip fraction, approx-KL, mean r, mean f(fake), classifier accuracy) -- averaged over seeds.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

KEYS = ("ratio/clip_fraction", "ratio/approx_kl", "ratio/mean", "critic/g_fake",
        "classifier/accuracy")


def fmt(values: list[float], digits: int = 3) -> str:
    if not values:
        return "–"
    m = statistics.mean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.{digits}g} ± {s:.2g}"


def run_means(run: Path) -> dict[str, float]:
    sums: dict[str, list[float]] = {k: [] for k in KEYS}
    path = run / "metrics.jsonl"
    if not path.is_file():
        return {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("phase"):
            continue
        for k in KEYS:
            if k in row:
                sums[k].append(float(row[k]))
    return {k: statistics.mean(v) for k, v in sums.items() if v}


def merged(outs: list[Path]) -> dict:
    """One summary over several compares: methods in first-seen order, values seed by seed, each
    run's directory remembered (finished runs only)."""
    out: dict = {"methods": [], "seeds": [], "steps": {}, "metrics": {}, "dirs": {}}
    for o in outs:
        s = json.loads((o / "summary.json").read_text())
        out["recipe"] = s["recipe"]
        out["seeds"] += [x for x in s["seeds"] if x not in out["seeds"]]
        for m in s["methods"]:
            if m not in out["methods"]:
                out["methods"].append(m)
            out["steps"][m] = s["steps"].get(m, "")
            for seed in s["seeds"]:
                out["dirs"].setdefault(m, []).append(o / m.replace("+", "_") / f"seed{seed}")
            for k, v in s["metrics"].get(m, {}).items():
                out["metrics"].setdefault(m, {}).setdefault(k, {"values": []})["values"] += (
                    v["values"])
    return out


def table(out: Path | list[Path]) -> str:
    if isinstance(out, list):
        summary = merged(out)
    else:
        summary = json.loads((out / "summary.json").read_text())
        summary["dirs"] = {m: [out / m.replace("+", "_") / f"seed{s}" for s in summary["seeds"]]
                           for m in summary["methods"]}
    toy = any("hq_fraction" in m for m in summary["metrics"].values())
    head = ("modes (per seed) | HQ fraction (per seed) | SWD" if toy else
            "FID (per seed) | class KL | coverage | precision | recall | SWD px")
    lines = [f"**{summary['recipe']}** ({out})", "",
             f"| method | iterations | {head} | clip frac | approx-KL | mean r | mean f(fake)"
             " | C accuracy |",
             "|---|---:|" + "---|" * (head.count("|") + 6)]
    for method in summary["methods"]:
        m = summary["metrics"].get(method, {})

        def values(key: str, metrics: dict = m) -> list[float]:
            return metrics.get(key, {}).get("values", [])

        diag: dict[str, list[float]] = {k: [] for k in KEYS}
        for run in summary["dirs"][method]:
            for k, v in run_means(run).items():
                diag[k].append(v)
        cells = [fmt(diag[k], 2) if diag[k] else "–" for k in KEYS]
        if toy:
            modes, hq = values("modes"), values("hq_fraction")
            quality = (f"{fmt(modes)} ({'/'.join(f'{v:g}' for v in modes)}) | {fmt(hq)} "
                       f"({'/'.join(f'{v:.2f}' for v in hq)}) | {fmt(values('swd'))}")
        else:
            fid = values("fid/classifier")
            quality = (f"{fmt(fid)} ({'/'.join(f'{v:.0f}' for v in fid)}) | "
                       + " | ".join(fmt(values(f"{k}/classifier")) for k in
                                    ("class_kl", "coverage", "precision", "recall"))
                       + f" | {fmt(values('swd/pixels'))}")
        lines.append(f"| {method} | {summary['steps'].get(method, '')} | {quality} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--merge"]:
        print(table([Path(a) for a in sys.argv[2:]]))
    else:
        for arg in sys.argv[1:]:
            print(table(Path(arg)))
            print()
