"""Plots of samples and training logs, and self-contained HTML reports of runs and comparisons."""

from stablegan.reports.html import write_compare_report, write_report
from stablegan.reports.plots import (
    plot_compare,
    plot_curves,
    plot_loss_variance_compare,
    plot_losses,
    read_jsonl,
    save_image_grid,
    save_samples,
    save_scatter,
)

__all__ = [
    "plot_compare",
    "plot_curves",
    "plot_loss_variance_compare",
    "plot_losses",
    "read_jsonl",
    "save_image_grid",
    "save_samples",
    "save_scatter",
    "write_compare_report",
    "write_report",
]
