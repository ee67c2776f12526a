"""Headless plots of samples and training logs.

Images are written with pillow; charts with matplotlib's Agg renderer. Figures are built as
``matplotlib.figure.Figure`` objects on an explicit ``FigureCanvasAgg`` and pyplot is never
imported, so this module needs no display and never switches the global backend of a notebook or
GUI that imported it (``matplotlib.use`` would). Every reader and plot skips NaN, inf, missing
and non-numeric values instead of failing.
"""

from __future__ import annotations

import fnmatch
import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from stablegan.errors import DataError, StableganError

Rows = Sequence[Mapping[str, Any]]

#: Keys that are axes, not curves.
AXIS_KEYS = ("step", "batches")
#: Most points drawn per curve in comparison plots (seeds are interpolated onto this grid).
MAX_GRID = 1000


# --------------------------------------------------------------------------------------- images


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N,C,H,W) in [-1,1] -> (N,H,W,C) uint8; non-finite pixels become black."""
    x = images.detach().to("cpu", torch.float32)
    x = torch.nan_to_num(x, nan=-1.0, posinf=1.0, neginf=-1.0).clamp(-1.0, 1.0)
    x = ((x + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def save_image_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    padding: int = 2,
    min_cell: int = 32,
) -> Path:
    """Save a batch of images in [-1, 1] as one PNG grid; return the path.

    ``images`` is (N, C, H, W) with C in {1, 3} (or (N, H, W), taken as grayscale). ``nrow`` is the
    number of images per row (default ``ceil(sqrt(N))``). Cells smaller than ``min_cell`` pixels are
    upscaled by an integer factor with nearest-neighbour so tiny images stay visible. The grid is
    ``ncol * W * s + (ncol + 1) * padding`` wide (``s`` the upscale factor), likewise high.
    """
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise DataError(
            f"cannot make an image grid from a tensor of shape {tuple(images.shape)}",
            hint="pass a non-empty (N, C, H, W) tensor with C = 1 (grayscale) or 3 (RGB)",
        )
    n, c, h, w = images.shape
    ncol = max(1, min(n, nrow if nrow else math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncol)
    scale = max(1, math.ceil(min_cell / min(h, w)))
    pixels = _to_uint8(images)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    ch, cw = h * scale, w * scale
    grid = np.full(
        (nrows * ch + (nrows + 1) * padding, ncol * cw + (ncol + 1) * padding, c), 128, np.uint8
    )
    for i in range(n):
        r, q = divmod(i, ncol)
        top, left = padding + r * (ch + padding), padding + q * (cw + padding)
        grid[top : top + ch, left : left + cw] = pixels[i]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(grid[..., 0], "L") if c == 1 else Image.fromarray(grid, "RGB")
    image.save(path, format="PNG")
    return path


# --------------------------------------------------------------------------------------- figures


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save_figure(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _points_array(t: torch.Tensor | np.ndarray | None, name: str) -> np.ndarray | None:
    """(N, D) float64 array, or None; rows with non-finite coordinates are kept (filtered later)."""
    if t is None:
        return None
    a = t.detach().to("cpu", torch.float64).numpy() if isinstance(t, torch.Tensor) else t
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise DataError(
            f"{name} must be an (N, D) array of points, got shape {a.shape}",
            hint="flatten each sample to a vector before scattering it",
        )
    return a


def _view_limits(gen: np.ndarray, others: list[np.ndarray]) -> tuple[float, float, float, float]:
    """Square view over real points/modes and the central 99% of generated points."""
    parts = [o for o in others if len(o)]
    if len(gen):
        lo, hi = np.percentile(gen, [0.5, 99.5], axis=0)
        parts.append(np.stack([lo, hi]))
    if not parts:
        return -1.0, 1.0, -1.0, 1.0
    allp = np.concatenate(parts)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * 1.1
    return centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half


def save_scatter(
    points: torch.Tensor | np.ndarray,
    path: str | Path,
    modes: torch.Tensor | np.ndarray | None = None,
    real: torch.Tensor | np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Scatter 2-D generated points over real samples (grey) and mode centres (red x); return path.

    Non-finite points are dropped and counted in the title; the view covers the real data, the
    modes and the central 99% of generated points (points outside it are counted in the title).
    """
    gen = _points_array(points, "points")
    assert gen is not None
    extra = {"modes": _points_array(modes, "modes"), "real": _points_array(real, "real")}
    for name, a in (("points", gen), *extra.items()):
        if a is not None and a.shape[1] != 2:
            raise DataError(
                f"save_scatter needs 2-D {name}, got dimension {a.shape[1]}",
                hint="use save_samples(..., kind='points'), which projects to the first two dims",
            )
    n_total = len(gen)
    gen = gen[np.isfinite(gen).all(axis=1)]
    mod = extra["modes"]
    rl = extra["real"]
    mod = mod[np.isfinite(mod).all(axis=1)] if mod is not None else None
    rl = rl[np.isfinite(rl).all(axis=1)] if rl is not None else None
    x0, x1, y0, y1 = _view_limits(gen, [a for a in (mod, rl) if a is not None])

    fig = _new_figure(6.0, 6.0)
    ax = fig.add_subplot()
    if rl is not None and len(rl):
        ax.scatter(rl[:, 0], rl[:, 1], s=4, c="0.6", alpha=0.5, linewidths=0, label="real")
    if len(gen):
        ax.scatter(gen[:, 0], gen[:, 1], s=5, c="C0", alpha=0.6, linewidths=0, label="generated")
    if mod is not None and len(mod):
        ax.scatter(mod[:, 0], mod[:, 1], s=60, c="red", marker="x", linewidths=1.5, label="modes")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=9, markerscale=2)
    notes = []
    if n_total - len(gen):
        notes.append(f"{n_total - len(gen)} non-finite dropped")
    outside = int(((gen[:, 0] < x0) | (gen[:, 0] > x1) | (gen[:, 1] < y0) | (gen[:, 1] > y1)).sum())
    if outside:
        notes.append(f"{outside} outside view")
    full = title + (f" ({', '.join(notes)})" if notes else "")
    if full:
        ax.set_title(full, fontsize=10)
    return _save_figure(fig, path)


def save_samples(
    samples: torch.Tensor | np.ndarray,
    path: str | Path,
    kind: str,
    modes: torch.Tensor | np.ndarray | None = None,
    real: torch.Tensor | np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Save samples as a scatter (``kind="points"``) or an image grid (``kind="image"``).

    Points of dimension > 2 are projected onto their first two coordinates (said in the title);
    1-D points are drawn on the x axis. ``title``, ``modes`` and ``real`` are unused for images.
    """
    if kind in ("image", "images"):
        return save_image_grid(torch.as_tensor(samples), path)
    if kind != "points":
        raise StableganError(f"unknown sample kind {kind!r}", hint="use 'points' or 'image'")
    gen = _points_array(samples, "samples")
    assert gen is not None
    dim = gen.shape[1]
    if dim == 2:
        return save_scatter(samples, path, modes=modes, real=real, title=title)

    def project(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        if a.shape[1] == 1:
            return np.concatenate([a, np.zeros_like(a)], axis=1)
        return a[:, :2]

    note = "1-D, drawn on x axis" if dim == 1 else f"first 2 of {dim} dims"
    full = f"{title} [{note}]" if title else f"[{note}]"
    m, r = _points_array(modes, "modes"), _points_array(real, "real")
    return save_scatter(project(gen), path, modes=project(m), real=project(r), title=full)


# --------------------------------------------------------------------------------------- logs


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read one JSON object per line, skipping blank and malformed lines (e.g. a truncated last
    line of a killed run) and non-object values. A malformed line before the last one warns.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"log file not found: {path}",
            hint=f"is {path.parent} a stablegan run directory?",
        )
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if i != last:
                warnings.warn(f"{path}:{i + 1}: skipping malformed JSON line", stacklevel=2)
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _num(v: Any) -> float | None:
    """A finite float from a JSON value, else None."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def series(rows: Rows, key: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """Finite (x, y) pairs of ``key`` against ``x``, sorted by x; a repeated x keeps the last."""
    pairs: dict[float, float] = {}
    for row in rows:
        xv, yv = _num(row.get(x)), _num(row.get(key))
        if xv is not None and yv is not None:
            pairs[xv] = yv
    if not pairs:
        return np.empty(0), np.empty(0)
    xs = np.fromiter(pairs.keys(), float, len(pairs))
    ys = np.fromiter(pairs.values(), float, len(pairs))
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def numeric_keys(rows: Rows, x: str = "step") -> list[str]:
    """Keys with at least one finite value (besides ``x`` and the axis keys), first-seen order."""
    seen: dict[str, bool] = {}
    for row in rows:
        if _num(row.get(x)) is None:
            continue
        for k, v in row.items():
            if k in AXIS_KEYS or k == x or seen.get(k):
                continue
            seen[k] = _num(v) is not None
    return [k for k, ok in seen.items() if ok]


def rolling_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (fewer at the start)."""
    if len(y) == 0:
        return y.astype(float)
    w = max(1, min(int(window), len(y)))
    c = np.concatenate([[0.0], np.cumsum(y, dtype=np.float64)])
    idx = np.arange(len(y))
    lo = np.maximum(0, idx - w + 1)
    return (c[idx + 1] - c[lo]) / (idx + 1 - lo)


def rolling_var(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing population variance over up to ``window`` values; NaN until ``min(5, window)``
    values (at least two) are in."""
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    out = np.full(n, np.nan)
    w = max(2, min(int(window), n)) if n else 0
    if n < 2:
        return out
    for i in range(max(1, min(5, w) - 1), w - 1):
        out[i] = y[: i + 1].var()
    out[w - 1 :] = np.lib.stride_tricks.sliding_window_view(y, w).var(axis=1)
    return out


def loss_variance(
    rows: Rows, net: str, x: str = "step", window: int = 50
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Rolling variance of ``loss/<net>``: the logged ``loss_var/<net>`` if present, else computed
    over ``window`` logged values. Returns (x, variance, logged)."""
    xs, vs = series(rows, f"loss_var/{net}", x)
    if len(xs):
        return xs, vs, True
    xs, ys = series(rows, f"loss/{net}", x)
    return xs, rolling_var(ys, window), False


def _log_y(ax: Axes) -> None:
    """Log y-scale when some plotted value is positive (non-positive values are masked)."""
    ys = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()]
    if any(np.any(np.isfinite(y) & (y > 0)) for y in ys):
        ax.set_yscale("log")


def plot_losses(metrics_rows: Rows, path: str | Path, window: int = 50) -> Path:
    """Plot D and G losses (raw, light, plus a rolling mean) and their rolling variance (log-y)
    against step, as in Fig. 1 of Wu et al. (2020); return the path.

    The variance panel uses the logged ``loss_var/*`` when present, else a trailing window of
    ``window`` logged losses. Raises DataError when there is no finite loss value.
    """
    nets = [("d", "D", "C3"), ("g", "G", "C0")]
    data = {n: series(metrics_rows, f"loss/{n}") for n, _, _ in nets}
    if not any(len(xs) for xs, _ in data.values()):
        raise DataError(
            "no finite loss/d or loss/g values in the metrics",
            hint="the run may have diverged or been stopped before its first log line",
        )
    fig = _new_figure(12.0, 4.2)
    ax_loss, ax_var = fig.subplots(1, 2)
    sources = set()
    for net, label, colour in nets:
        xs, ys = data[net]
        if len(xs):
            ax_loss.plot(xs, ys, color=colour, alpha=0.25, linewidth=0.8)
            ax_loss.plot(
                xs,
                rolling_mean(ys, window),
                color=colour,
                linewidth=1.6,
                label=f"{label} (rolling mean, {min(window, len(ys))})",
            )
        vx, vy, logged = loss_variance(metrics_rows, net, window=window)
        if len(vx):
            ax_var.plot(vx, vy, color=colour, linewidth=1.2, label=label)
            sources.add("logged" if logged else f"window {window}")
    ax_loss.set_title("loss")
    ax_loss.set_xlabel("step")
    ax_loss.legend(fontsize=9)
    ax_loss.grid(True, alpha=0.3)
    source = f" ({', '.join(sorted(sources))})" if sources else " (no data)"
    ax_var.set_title(f"rolling loss variance{source}")
    ax_var.set_xlabel("step")
    _log_y(ax_var)
    if ax_var.get_lines():
        ax_var.legend(fontsize=9)
    ax_var.grid(True, alpha=0.3, which="both")
    return _save_figure(fig, path)


def _expand(keys: Iterable[str], available: Sequence[str]) -> list[str]:
    """Keys and glob patterns (``ratio/*``) matched against available keys, deduplicated."""
    out: list[str] = []
    for pattern in keys:
        for k in available:
            if k not in out and fnmatch.fnmatchcase(k, pattern):
                out.append(k)
    return out


def plot_curves(
    rows: Rows,
    keys: Iterable[str],
    path: str | Path,
    x: str = "step",
    title: str = "",
) -> list[str]:
    """One panel per key with finite values (keys may be globs like ``ratio/*``); return the keys
    plotted. Absent keys are skipped; when none is present no file is written and [] returned."""
    plotted = _expand(keys, numeric_keys(rows, x))
    if not plotted:
        return []
    ncol = min(3, len(plotted))
    nrows = math.ceil(len(plotted) / ncol)
    fig = _new_figure(4.2 * ncol, 3.0 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncol, squeeze=False)).ravel()
    for ax, key in zip(axes, plotted, strict=False):
        xs, ys = series(rows, key, x)
        ax.plot(xs, ys, "o-" if len(xs) <= 50 else "-", markersize=3, linewidth=1.2)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(x)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(plotted) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    _save_figure(fig, path)
    return plotted


def seed_band(
    seeds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Interpolate per-seed (x, y) curves onto a common grid; return (grid, mean, std, n_seeds).

    The grid is the union of the seeds' x values (at most MAX_GRID points) restricted to the range
    all seeds cover, or, if they share no range, to points covered by any seed. ``std`` is the
    population std across the seeds covering each point.
    """
    seeds = [(xs, ys) for xs, ys in seeds if len(xs)]
    if not seeds:
        return np.empty(0), np.empty(0), np.empty(0), 0
    grid = np.unique(np.concatenate([xs for xs, _ in seeds]))
    if len(grid) > MAX_GRID:
        grid = np.linspace(grid[0], grid[-1], MAX_GRID)
    vals = np.stack([np.interp(grid, xs, ys, left=np.nan, right=np.nan) for xs, ys in seeds])
    covered = np.isfinite(vals)
    keep = covered.all(axis=0)
    if not keep.any():
        keep = covered.any(axis=0)
    grid, vals = grid[keep], vals[:, keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return grid, np.nanmean(vals, axis=0), np.nanstd(vals, axis=0), len(seeds)


def _band(
    ax: Axes, grid: np.ndarray, mean: np.ndarray, std: np.ndarray, colour: str, label: str
) -> None:
    ax.plot(
        grid,
        mean,
        "o-" if len(grid) <= 30 else "-",
        color=colour,
        markersize=3,
        linewidth=1.5,
        label=label,
    )
    ax.fill_between(grid, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)


def plot_compare(
    runs: Mapping[str, Sequence[Rows]],
    metric: str,
    path: str | Path,
    x: str = "batches",
) -> list[str]:
    """Mean ± std across seeds of ``metric`` per method against ``x`` (batches consumed); return
    the methods plotted. ``runs`` maps a method to one row list (evals.jsonl) per seed. When no
    method has a finite value no file is written and [] returned."""
    fig = _new_figure(7.0, 4.5)
    ax = fig.add_subplot()
    plotted = []
    for i, (method, seed_rows) in enumerate(runs.items()):
        grid, mean, std, n = seed_band([series(rows, metric, x) for rows in seed_rows])
        if n == 0:
            continue
        _band(ax, grid, mean, std, f"C{i % 10}", f"{method} (n={n})")
        plotted.append(method)
    if not plotted:
        return []
    ax.set_title(f"{metric} (mean ± std over seeds)")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    _save_figure(fig, path)
    return plotted


def plot_loss_variance_compare(
    runs: Mapping[str, Sequence[Rows]],
    path: str | Path,
    x: str = "batches",
    window: int = 50,
) -> list[str]:
    """Mean ± std across seeds of the rolling D and G loss variance per method against ``x``
    (log-y, one panel per network); return the methods plotted. ``runs`` maps a method to one
    metrics.jsonl row list per seed. When nothing is plottable no file is written and []
    returned."""
    fig = _new_figure(12.0, 4.2)
    axes = fig.subplots(1, 2)
    plotted: list[str] = []
    for i, (method, seed_rows) in enumerate(runs.items()):
        for ax, net in zip(axes, ("d", "g"), strict=True):
            curves = []
            for rows in seed_rows:
                vx, vy, _ = loss_variance(rows, net, x=x, window=window)
                ok = np.isfinite(vy)
                curves.append((vx[ok], vy[ok]))
            grid, mean, std, n = seed_band(curves)
            if n == 0:
                continue
            _band(ax, grid, mean, std, f"C{i % 10}", f"{method} (n={n})")
            if method not in plotted:
                plotted.append(method)
    if not plotted:
        return []
    for ax, net in zip(axes, ("D", "G"), strict=True):
        ax.set_title(f"rolling {net} loss variance (mean ± std over seeds)", fontsize=10)
        ax.set_xlabel(x)
        _log_y(ax)
        ax.grid(True, alpha=0.3, which="both")
        if ax.get_lines():
            ax.legend(fontsize=9)
    _save_figure(fig, path)
    return plotted
