"""Tests of stablegan.reports: image grids, scatters, tolerant log reading and HTML reports."""

from __future__ import annotations

import base64
import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import torch
from PIL import Image

from stablegan.errors import DataError, StableganError
from stablegan.reports import (
    plot_compare,
    plot_curves,
    plot_loss_variance_compare,
    plot_losses,
    read_jsonl,
    save_image_grid,
    save_samples,
    save_scatter,
    write_compare_report,
    write_report,
)
from stablegan.reports.plots import rolling_var, seed_band, series


class _Refs(HTMLParser):
    """Collects img src and a href attributes, and tags that would load external content."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.files: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a["src"] or "")
            self.files.append(a.get("data-file") or "")
        if tag == "a":
            self.links.append(a["href"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(index: Path) -> _Refs:
    refs = _Refs()
    refs.feed(index.read_text(encoding="utf-8"))
    refs.close()
    assert not {"script", "link", "iframe"} & refs.tags
    return refs


def _assert_pngs(index: Path, srcs: list[str]) -> None:
    """Every image is embedded in the page (a PNG data URI): the report is one file."""
    assert srcs
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
            im.verify()
            assert im.format == "PNG"
    assert [p.name for p in index.parent.iterdir()] == ["index.html"]


def _metrics_lines(n: int, seed: int, nan_every: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    lines = []
    for step in range(1, n + 1):
        row = {
            "step": step,
            "batches": 3 * step + seed,
            "loss/d": float(1.0 + 0.3 * rng.standard_normal()),
            "loss/g": float(0.7 + 0.2 * rng.standard_normal()),
            "ratio/mean": 1.0,
            "ratio/clip_fraction": float(rng.uniform()),
            "weights/ess": float(rng.uniform(0.5, 1.0)),
            "grad/d_fake_norm": float(rng.uniform()),
            "time/sec": 0.01,
        }
        if nan_every and step % nan_every == 0:
            row["loss/d"] = float("nan")
            row["weights/ess"] = float("inf")
            del row["loss/g"]
        lines.append(json.dumps(row))  # NaN/Infinity literals, as json.dumps writes them
    return lines


def _fake_run(root: Path, seed: int = 0, n: int = 120) -> Path:
    run = root / f"run{seed}"
    (run / "samples").mkdir(parents=True)
    lines = _metrics_lines(n, seed, nan_every=7)
    text = "\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2]  # killed mid-write
    (run / "metrics.jsonl").write_text(text)
    evals = [
        {
            "step": s,
            "batches": 3 * s + seed,
            "modes": 2 + s // 40 + seed,
            "hq_fraction": s / n,
            "fid/classifier": float("nan") if s == 80 else 10.0 / s,
        }
        for s in (40, 80, 120)
    ]
    (run / "evals.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    (run / "eval.json").write_text(
        json.dumps({"modes": 8, "hq_fraction": 0.9, "fid": {"classifier": 1.5}, "x": float("nan")})
    )
    (run / "config.yaml").write_text("method: vgan\nname: <script>alert(1)</script>\n")
    for step in (100, 200):
        save_image_grid(torch.rand(4, 1, 8, 8) * 2 - 1, run / "samples" / f"step_{step:06d}.png")
    save_image_grid(torch.rand(6, 1, 8, 8) * 2 - 1, run / "nearest_pairs.png", nrow=2)
    return run


# ------------------------------------------------------------------------------------ images


@pytest.mark.parametrize(
    ("shape", "nrow", "mode", "size"),
    [
        # 8x8 cells upscaled x4 to 32 px; ceil(sqrt(8)) = 3 per row, 3 rows; padding 2.
        ((8, 1, 8, 8), None, "L", (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)),
        # 32x32 RGB stays 32 px; 5 images, 2 per row -> 3 rows.
        ((5, 3, 32, 32), 2, "RGB", (2 * 32 + 3 * 2, 3 * 32 + 4 * 2)),
    ],
)
def test_save_image_grid_size_and_mode(
    tmp_path: Path, shape: tuple[int, ...], nrow: int | None, mode: str, size: tuple[int, int]
) -> None:
    path = save_image_grid(torch.rand(shape) * 2 - 1, tmp_path / "g.png", nrow=nrow)
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.mode == mode
        assert im.size == size


def test_save_image_grid_pixel_values_and_upscale(tmp_path: Path) -> None:
    images = torch.full((1, 1, 8, 8), -1.0)
    images[0, 0, 0, 0] = 1.0
    images[0, 0, 7, 7] = float("nan")  # non-finite pixels must not crash
    path = save_image_grid(images, tmp_path / "g.png", padding=0)
    a = np.asarray(Image.open(path))
    assert a.shape == (32, 32)
    assert (a[:4, :4] == 255).all() and a[4, 4] == 0  # nearest-neighbour, 4x4 block


def test_save_image_grid_rejects_bad_shape(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        save_image_grid(torch.zeros(2, 2, 8, 8), tmp_path / "g.png")


# ------------------------------------------------------------------------------------ scatter


@pytest.mark.slow
def test_scatter_2d_points(tmp_path: Path) -> None:
    pts = torch.randn(500, 2)
    pts[0] = float("nan")
    modes = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    path = save_scatter(pts, tmp_path / "s.png", modes=modes, real=torch.randn(200, 2), title="t")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (600, 600)
    with pytest.raises(DataError):
        save_scatter(torch.randn(10, 3), tmp_path / "bad.png")


@pytest.mark.slow
def test_save_samples_dispatch(tmp_path: Path) -> None:
    p = save_samples(torch.randn(50, 5), tmp_path / "p.png", "points", real=torch.randn(20, 5))
    i = save_samples(torch.rand(4, 3, 8, 8) * 2 - 1, tmp_path / "i.png", "image")
    one = save_samples(torch.randn(30, 1), tmp_path / "one.png", "points")
    for path in (p, i, one):
        with Image.open(path) as im:
            assert im.format == "PNG"
    with pytest.raises(StableganError):
        save_samples(torch.randn(5, 2), tmp_path / "x.png", "video")


# ------------------------------------------------------------------------------------ logs


def test_read_jsonl_tolerance(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"step": 1, "loss/d": NaN}\n\n[1, 2]\n{"step": 2, "loss/d": Infinity}\n'
        '{"step": 3, "loss/d": 0.5}\n{"step": 4, "lo'
    )
    rows = read_jsonl(path)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert math.isnan(rows[0]["loss/d"])
    xs, ys = series(rows, "loss/d")
    assert xs.tolist() == [3.0] and ys.tolist() == [0.5]
    path.write_text('{"step": 1}\n{broken\n{"step": 2}\n')
    with pytest.warns(UserWarning, match="malformed"):
        assert [r["step"] for r in read_jsonl(path)] == [1, 2]
    with pytest.raises(DataError):
        read_jsonl(tmp_path / "absent.jsonl")


def test_rolling_var_matches_numpy() -> None:
    y = np.arange(10.0) ** 2
    v = rolling_var(y, 4)
    assert math.isnan(v[0]) and math.isnan(v[2])  # fewer than min(5, window) = 4 values
    assert v[3] == pytest.approx(y[:4].var())
    assert v[9] == pytest.approx(y[6:10].var())
    v = rolling_var(y, 8)
    assert math.isnan(v[3]) and v[4] == pytest.approx(y[:5].var())
    assert v[9] == pytest.approx(y[2:10].var())
    assert np.isnan(rolling_var(y[:1], 8)).all()


@pytest.mark.slow
def test_plots_skip_absent_and_nonfinite(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in _metrics_lines(60, 0, nan_every=5)]
    plot_losses(rows, tmp_path / "losses.png", window=10)
    assert Image.open(tmp_path / "losses.png").format == "PNG"
    keys = plot_curves(rows, ["ratio/*", "weights/ess", "absent/key"], tmp_path / "c.png")
    assert keys == ["ratio/mean", "ratio/clip_fraction", "weights/ess"]
    assert plot_curves(rows, ["absent/*"], tmp_path / "none.png") == []
    assert not (tmp_path / "none.png").exists()
    with pytest.raises(DataError):
        plot_losses([{"step": 1, "loss/d": float("nan")}], tmp_path / "x.png")


@pytest.mark.slow
def test_seed_band_interpolates_onto_common_grid(tmp_path: Path) -> None:
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    b = (np.array([0.0, 5.0, 12.0]), np.array([2.0, 7.0, 14.0]))
    grid, mean, std, n = seed_band([a, b])
    assert n == 2 and grid.tolist() == [0.0, 5.0, 10.0]  # 12 is outside seed a's range
    assert mean.tolist() == pytest.approx([1.0, 6.0, 11.0])
    assert std.tolist() == pytest.approx([1.0, 1.0, 1.0])
    runs = {"gan": [[{"batches": 0, "m": 0.0}, {"batches": 10, "m": 1.0}]] * 2, "empty": [[]]}
    assert plot_compare(runs, "m", tmp_path / "c.png") == ["gan"]
    assert plot_compare(runs, "absent", tmp_path / "none.png") == []
    metrics = {"gan": [[json.loads(s) for s in _metrics_lines(40, k)] for k in (0, 1)]}
    assert plot_loss_variance_compare(metrics, tmp_path / "v.png", window=5) == ["gan"]


# ------------------------------------------------------------------------------------ reports


@pytest.mark.slow
def test_write_report(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    index = write_report(run)
    assert index == run / "report" / "index.html"
    refs = _parse(index)
    _assert_pngs(index, refs.imgs)
    names = set(refs.files)
    assert {"losses.png", "evals.png", "step_000100.png", "step_000200.png"} <= names
    assert "nearest_pairs.png" in names
    assert any(n.startswith("diag_") for n in names)
    text = "".join(refs.text)
    assert "<script>alert(1)</script>" in text  # shown as text, escaped in the source
    assert "<script>" not in index.read_text()
    assert "fid/classifier" in text and "1.5" in text and "method: vgan" in text
    assert all(link.startswith("#") for link in refs.links)
    assert write_report(run) == index  # rerunning overwrites cleanly


@pytest.mark.slow
def test_write_report_minimal_run(tmp_path: Path) -> None:
    run = tmp_path / "bare"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "batches": 2, "loss/d": 1.0, "loss/g": 2.0}\n')
    index = write_report(run)
    refs = _parse(index)
    _assert_pngs(index, refs.imgs)
    assert "no eval.json" in "".join(refs.text)


def test_missing_run_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        write_report(tmp_path / "nope")
    assert err.value.hint
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"metrics\.jsonl") as err:
        write_report(tmp_path / "empty")
    assert "run directory" in (err.value.hint or "")
    with pytest.raises(DataError, match=r"summary\.json"):
        write_compare_report(tmp_path / "empty")


@pytest.mark.slow
def test_write_compare_report(tmp_path: Path) -> None:
    cdir = tmp_path / "cmp"
    runs_root = cdir / "runs"
    run_a, run_b = _fake_run(runs_root / "gan", 0), _fake_run(runs_root / "vgan", 1)
    write_report(run_a)  # only one run has its own report
    summary = {
        "recipe": "ring",
        "steps": 120,
        "methods": ["gan", "vgan"],
        "seeds": [0],
        "runs": {
            "gan/seed0": str(run_a.relative_to(cdir)),
            "vgan/seed0": str(run_b.relative_to(cdir)),
        },
        "metrics": {
            "gan": {"modes": {"mean": 6.0, "std": 0.0, "values": [6.0]}},
            "vgan": {"modes": {"mean": 8.0, "std": 0.5, "values": [7.5, 8.5]}},
        },
    }
    (cdir / "summary.json").write_text(json.dumps(summary))
    index = write_compare_report(cdir)
    assert index == cdir / "report" / "index.html"
    refs = _parse(index)
    _assert_pngs(index, refs.imgs)
    names = set(refs.files)
    assert {"compare_modes.png", "compare_fid_classifier.png", "loss_variance.png"} <= names
    assert len(refs.links) == 1
    target = (index.parent / unquote(refs.links[0])).resolve()
    assert target == (run_a / "report" / "index.html").resolve()
    text = "".join(refs.text)
    assert "8 ± 0.5" in text and "vgan/seed0" in text
