"""Tabulate a benchmarks/text.sh output directory: mean +- std over seeds of each method's final
evaluation (eval.json) and the pre-trained starting point.

    python benchmarks/text_summary.py runs/bench-text/oracle [--start DIR] [--json]

An eval.json written before issue 18 has ``nll_gen`` on the test split and no ``nll_gen_test``:
it is read as ``nll_gen_test`` (and ``nll_gen_unpadded`` as ``nll_gen_test_unpadded``), with
no training-set ``nll_gen``; re-evaluate such a run (``stablegan eval --run DIR``) for it.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

KEYS = ("nll_oracle", "nll_gen", "nll_gen_test", "nll_gen_test_unpadded", "bleu2", "bleu3",
        "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5", "unique_4grams")


def _runs(root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for ev in sorted(root.glob("cmp/*/seed*/eval.json")):
        out.setdefault(ev.parent.parent.name, []).append(ev.parent)
    return out


def read_eval(path: Path) -> dict[str, object]:
    """eval.json with the NLL_gen keys in today's meaning (see the module docstring)."""
    ev = json.loads(path.read_text())
    if "nll_gen" in ev and "nll_gen_test" not in ev:  # before issue 18: on the test split
        ev["nll_gen_test"] = ev.pop("nll_gen")
        if "nll_gen_unpadded" in ev:
            ev["nll_gen_test_unpadded"] = ev.pop("nll_gen_unpadded")
    return ev


def summarise(root: Path, start: Path | None = None) -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = {}
    pre = (start or root / "pretrained") / "eval.json"
    if pre.is_file():
        ev = read_eval(pre)
        table["pre-trained (start)"] = {k: (ev.get(k), None, 1) for k in KEYS}
    for method, runs in _runs(root).items():
        evals = [read_eval(r / "eval.json") for r in runs]
        row: dict[str, object] = {}
        for k in KEYS:
            vals = [e[k] for e in evals if isinstance(e.get(k), (int, float))]
            if vals:
                row[k] = (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1
                          else 0.0, len(vals))
        table[method] = row
    return table


def markdown(table: dict[str, dict[str, object]]) -> str:
    keys = [k for k in KEYS if any(k in row for row in table.values())]
    lines = ["| method | seeds | " + " | ".join(keys) + " |",
             "|---|---:|" + "---:|" * len(keys)]
    for method, row in table.items():
        seeds = next((v[2] for v in row.values() if isinstance(v, tuple)), 0)
        cells = []
        for k in keys:
            v = row.get(k)
            if not isinstance(v, tuple) or v[0] is None:
                cells.append("–")
            elif v[1] is None or v[2] < 2:
                cells.append(f"{v[0]:.3f}")
            else:
                cells.append(f"{v[0]:.3f} ± {v[1]:.3f}")
        lines.append(f"| {method} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--start", type=Path, help="run directory of the pre-trained start "
                    "(default ROOT/pretrained)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    table = summarise(args.root, args.start)
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(markdown(table))


if __name__ == "__main__":
    main()
