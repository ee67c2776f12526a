"""Ratio diagnostics over training from metrics.jsonl, one curve per method (mean over seeds).

    python benchmarks/ratio_round2_plot.py OUT/round2-ring docs/img/round2-ring-ratio-stats.png
    python benchmarks/ratio_round2_plot.py --loss-variance OUT/tuned-ring PNG METHOD [METHOD ...]
      (Fig. 1 right of Wu et al.: rolling D and G loss variance of the named methods, mean ± std
      over seeds, against batches consumed)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PANELS = (("ratio/clip_fraction", "clip fraction"), ("ratio/approx_kl", "approx-KL (log scale)"),
          ("ratio/mean", "mean r"), ("critic/g_fake", "mean f(G(z))"))


def label(method: str) -> str:
    short = method.replace("+lipschitz.gradient_penalty.weight=", " GP").replace(
        "+variational.classifier_lr_divide=true", "").replace("+variational.", " ")
    return short.replace("+model.name=flow+model.flow_layers=6", " flow")[:60]


def curves(out: Path, method: str, seeds: list[int], key: str) -> tuple[np.ndarray, np.ndarray]:
    series = []
    for seed in seeds:
        path = out / method.replace("+", "_") / f"seed{seed}" / "metrics.jsonl"
        if not path.is_file():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows = [r for r in rows if not r.get("phase") and key in r]
        series.append([(r["batches"], r[key]) for r in rows])
    if not series:
        return np.array([]), np.array([])
    n = min(len(s) for s in series)
    x = np.array([p[0] for p in series[0][:n]])
    y = np.mean([[p[1] for p in s[:n]] for s in series], axis=0)
    return x, y


def main(out: Path, png: Path) -> None:
    summary = json.loads((out / "summary.json").read_text())
    fig = Figure(figsize=(13, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(PANELS))
    for ax, (key, title) in zip(axes, PANELS):
        for i, method in enumerate(summary["methods"]):
            x, y = curves(out, method, summary["seeds"], key)
            if x.size:
                ax.plot(x, y, label=label(method), lw=1.2, color=f"C{i}")
        if key == "ratio/approx_kl":
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("batches consumed")
        ax.grid(alpha=0.3)
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7)
    fig.suptitle(f"{summary['recipe']}: ratio diagnostics (mean over seeds {summary['seeds']})",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(png, dpi=80)


def loss_variance_figure(out: Path, png: Path, methods: list[str]) -> None:
    from stablegan.reports import plot_loss_variance_compare, read_jsonl

    summary = json.loads((out / "summary.json").read_text())
    runs = {label(m): [read_jsonl(out / m.replace("+", "_") / f"seed{s}" / "metrics.jsonl")
                       for s in summary["seeds"]] for m in methods}
    if not plot_loss_variance_compare(runs, png, x="batches"):
        raise SystemExit(f"nothing to plot for {methods} in {out}")


if __name__ == "__main__":
    if sys.argv[1] == "--loss-variance":
        loss_variance_figure(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
