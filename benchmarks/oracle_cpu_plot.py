"""Curves and Fig. 1-style stability plots of a benchmarks/oracle_cpu.sh output folder.

    python benchmarks/oracle_cpu_plot.py /work/bench/oracle/main --out-dir DIR
    python benchmarks/oracle_cpu_plot.py --search /work/bench/oracle/search --out-dir DIR

``curves.png``: NLL_oracle, NLL_gen (training set), BLEU-3 and self-BLEU-3 against minibatch
updates, mean ± std over seeds (the band: the population std of the seeds' interpolated
curves), every method including the maximum-likelihood continuation; each curve starts at the
shared pre-trained start (0 updates) and ends at the final evaluation.
``stability.png``: the critic's rolling loss variance (``loss_var/d``) of every adversarial
method, log scale (re-weighting: ppo-gan-reweight and the exact-ratio ppo-gan against wgan-gp,
the same WGAN-GP critic without it), and the ratio's statistics (mean, std, clip fraction,
approximate KL) of the rows that clip, against minibatch updates.
``--search``: ``search.png``, NLL_oracle against updates of every setting of the pre-registered
search (benchmarks/oracle_cpu_search.md) beside the mle continuation it was compared with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stablegan.reports.plots import read_jsonl, seed_band, series

CURVE_KEYS = ("nll_oracle", "nll_gen", "bleu3", "self_bleu3")
STABILITY_KEYS = ("loss_var/d", "ratio/mean", "ratio/std", "ratio/clip_fraction",
                  "ratio/approx_kl")
ORDER = ("mle", "relgan", "wgan-gp", "ppo-gan-reweight", "ppo-gan-text-authors")


def label(method: str) -> str:
    """``ppo-gan+variational.ratio=exact+...`` (or its folder name, ``_`` for ``+``) -> a name."""
    if method.startswith("ppo-gan") and "ratio=exact" in method:
        return "ppo-gan, exact ratio"
    return {"ppo-gan-text-authors": "ppo-gan-text-authors (classifier ratio)"}.get(method, method)


def color(method: str) -> str:
    """One colour per method in every figure."""
    if method.startswith("ppo-gan") and "ratio=exact" in method:
        return f"C{len(ORDER)}"
    return f"C{ORDER.index(method)}" if method in ORDER else "C9"


def methods(root: Path) -> list[str]:
    found = sorted({p.parent.parent.name for p in (root / "cmp").glob("*/seed*/eval.json")})
    return sorted(found, key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER), m))


def eval_rows(run: Path, start: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The run's evaluations against batches: the start (0), evals.jsonl, eval.json (at the
    last metrics row's batches)."""
    rows = [{"batches": 0, **start}] if start else []
    if (run / "evals.jsonl").is_file():
        rows += read_jsonl(run / "evals.jsonl")
    metrics = read_jsonl(run / "metrics.jsonl") if (run / "metrics.jsonl").is_file() else []
    if metrics and (run / "eval.json").is_file():
        rows.append({**json.loads((run / "eval.json").read_text()),
                     "batches": metrics[-1]["batches"]})
    return rows


def _panel(fig: Figure, at: int, shape: tuple[int, int], key: str,
           runs: dict[str, list[list[dict[str, Any]]]], log: bool = False) -> None:
    ax = fig.add_subplot(*shape, at)
    drawn = 0
    for j, (method, per_seed) in enumerate(runs.items()):
        grid, mean, std, n = seed_band([series(r, key, x="batches") for r in per_seed])
        if n == 0:
            continue
        drawn += 1
        c = color(method) if method in ORDER or "ratio=exact" in method else f"C{j}"
        ax.plot(grid, mean, "-", marker="o" if len(grid) < 30 else None, markersize=3,
                color=c, label=f"{label(method)} (n={n})")
        ax.fill_between(grid, mean - std, mean + std, color=c, alpha=0.2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("minibatch updates (D + G + C)")
    ax.set_title(f"{key} (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=6.5)


def plot(root: Path, out_dir: Path) -> tuple[Path, Path]:
    start_file = root / "pretrained" / "eval.json"
    start = json.loads(start_file.read_text()) if start_file.is_file() else None
    names = methods(root)
    runs = {m: sorted((root / "cmp" / m).glob("seed*")) for m in names}
    evals = {m: [eval_rows(r, start) for r in rs if (r / "eval.json").is_file()]
             for m, rs in runs.items()}
    fig = Figure(figsize=(11, 8))
    FigureCanvasAgg(fig)
    for i, key in enumerate(CURVE_KEYS):
        _panel(fig, i + 1, (2, 2), key, evals)
    seeds = sorted({int(r.name[4:]) for rs in runs.values() for r in rs if r.name[4:].isdigit()})
    fig.suptitle(f"oracle-cpu, seeds {', '.join(map(str, seeds))}: from one pre-trained start, "
                 "equal minibatch updates")
    fig.tight_layout()
    curves = out_dir / "curves.png"
    fig.savefig(curves, dpi=110)
    logs = {m: [read_jsonl(r / "metrics.jsonl") for r in rs if (r / "metrics.jsonl").is_file()]
            for m, rs in runs.items() if m != "mle"}
    fig = Figure(figsize=(16, 7.5))
    FigureCanvasAgg(fig)
    for i, key in enumerate(STABILITY_KEYS):
        _panel(fig, i + 1, (2, 3), key, logs, log=key == "loss_var/d")
    fig.suptitle("critic loss variance with and without re-weighting; the ratio's statistics")
    fig.tight_layout()
    stability = out_dir / "stability.png"
    fig.savefig(stability, dpi=110)
    return curves, stability


def plot_search(root: Path, out_dir: Path) -> Path:
    """One panel per maximum-likelihood continuation of the search: it and every relgan setting
    compared with it, NLL_oracle mean ± std over seeds from the shared start."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import oracle_cpu_search as search

    panels: dict[str, list[Any]] = {}
    for s in (*search.SETTINGS, *search.ROUND2):
        panels.setdefault(s.mle_folder, []).append(s)
    fig = Figure(figsize=(5.2 * len(panels), 4.2))
    FigureCanvasAgg(fig)
    for i, (folder, settings) in enumerate(panels.items()):
        start = json.loads((root / f"V{settings[0].vocab}" / "pretrained" / "eval.json")
                           .read_text())
        runs = {"mle": [eval_rows(root / folder / "cmp" / "mle" / f"seed{k}", start)
                        for k in settings[0].seeds]}
        for s in settings:
            name = f"relgan {s.name} (beta_max {s.beta_max:g}, g_lr {s.g_lr:g})"
            runs[name] = [eval_rows(root / s.name / "cmp" / "relgan" / f"seed{k}", start)
                          for k in s.seeds]
        runs = {k: [r for r in v if len(r) > 1] for k, v in runs.items()}
        _panel(fig, i + 1, (1, len(panels)), "nll_oracle", runs)
        seeds = ", ".join(map(str, settings[0].seeds))
        fig.axes[-1].set_title(f"NLL_oracle, V {settings[0].vocab}, {settings[0].batches} "
                               f"updates, seeds {seeds}", fontsize=9)
    fig.tight_layout()
    path = out_dir / "search.png"
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--out-dir", type=Path, help="where the PNGs go (default ROOT)")
    ap.add_argument("--search", action="store_true", help="ROOT is the search's output")
    args = ap.parse_args()
    if args.search:
        print(plot_search(args.root, args.out_dir or args.root))
        return
    for path in plot(args.root, args.out_dir or args.root):
        print(path)


if __name__ == "__main__":
    main()
