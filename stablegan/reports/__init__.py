"""Plots of samples and training logs, and self-contained HTML reports of runs and comparisons.

The names are imported when first used (PEP 562 ``__getattr__``): the tasks and the run
directory draw with :mod:`stablegan.reports.plots` without importing the HTML reports (which
read whole runs and sit above training).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
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

# public name -> the module that defines it (tests/test_layers.py reads this table)
_LAZY = {
    "plot_compare": "stablegan.reports.plots",
    "plot_curves": "stablegan.reports.plots",
    "plot_loss_variance_compare": "stablegan.reports.plots",
    "plot_losses": "stablegan.reports.plots",
    "read_jsonl": "stablegan.reports.plots",
    "save_image_grid": "stablegan.reports.plots",
    "save_samples": "stablegan.reports.plots",
    "save_scatter": "stablegan.reports.plots",
    "write_compare_report": "stablegan.reports.html",
    "write_report": "stablegan.reports.html",
}

__all__ = ["plot_compare", "plot_curves", "plot_loss_variance_compare", "plot_losses", "read_jsonl",
           "save_image_grid", "save_samples", "save_scatter", "write_compare_report",
           "write_report"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stablegan.reports' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
