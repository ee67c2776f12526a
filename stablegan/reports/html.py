"""Self-contained HTML reports of a run directory and of a ``compare`` output directory.

Each report is one file, ``<dir>/report/index.html``: every plot and sample grid is embedded as a
base64 ``data:image/png`` URI, the CSS is inline, there are no scripts and no external assets, so
the file can be mailed or moved alone. (The only links are those of a comparison to its runs' own
reports.) Missing optional inputs
become a note on the page; only a missing ``metrics.jsonl`` (run) or ``summary.json`` (compare)
raises :class:`~stablegan.errors.DataError`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image

from stablegan.errors import DataError
from stablegan.reports.plots import (
    AXIS_KEYS,
    Rows,
    numeric_keys,
    plot_compare,
    plot_curves,
    plot_loss_variance_compare,
    plot_losses,
    read_jsonl,
)
from stablegan.reports.table import display

#: Diagnostic groups shown on a run report, in order: (section title, key globs).
DIAGNOSTIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("critic", ("critic/*",)),
    ("gradients", ("grad/*",)),
    ("sample weights", ("weights/*",)),
    ("probability ratio", ("ratio/*",)),
    ("ratio classifier", ("classifier/*",)),
    ("discriminator overfitting", ("overfit/*",)),
)
#: Metrics keys not shown as diagnostics (drawn in the loss plot, or not about training).
_NOT_DIAGNOSTIC = ("loss/d", "loss/g", "loss_var/d", "loss_var/g", "time/*", "health/*")
#: Sections of a run report, for the page's navigation: (anchor, title).
_RUN_SECTIONS = (
    ("losses", "losses"),
    ("evals", "evaluations"),
    ("health", "training health"),
    ("diagnostics", "diagnostics"),
    ("samples", "samples"),
    ("final-eval", "final eval"),
    ("nearest", "nearest pairs"),
    ("config", "config"),
)
#: Most sample grids shown in the strip (evenly spaced over training, always the last).
MAX_SAMPLE_GRIDS = 12

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;
max-width:1300px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:1.6em}h3{font-size:1em;margin:.8em 0 .3em}
.meta{color:#555;font-size:.9em}nav a{margin-right:1em}
img{max-width:100%;height:auto;border:1px solid #eee}
.strip{display:flex;gap:.6em;overflow-x:auto;padding-bottom:.5em}
.strip figure{margin:0;flex:0 0 auto;text-align:center}
.strip img{height:220px;width:auto;image-rendering:pixelated}
figcaption{font-size:.8em;color:#555}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td.k,th.k{text-align:left;font-family:monospace}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.8em;overflow-x:auto;font-size:.85em}
.note{color:#8a5a00;font-style:italic}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _src(rel: str) -> str:
    """A relative path as an escaped, percent-encoded attribute value."""
    return _e(quote(Path(rel).as_posix()))


def _img(path: Path, alt: str) -> str:
    """``path`` (a PNG) embedded in the page as a data URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}" '
            f'data-file="{_e(Path(path).name)}">')


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return _e(json.dumps(v) if isinstance(v, list | dict) else v)
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "x"


def _page(title: str, body: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _section(anchor: str, title: str, parts: Iterable[str]) -> str:
    return (
        f'<section id="{_e(anchor)}">\n<h2>{_e(title)}</h2>\n' + "\n".join(parts) + "\n</section>"
    )


def _valid_png(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()
            return im.format == "PNG"
    except (OSError, SyntaxError, ValueError):
        return False


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{key}/"))
        else:
            out[key] = v
    return out


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """read_jsonl that also counts the malformed lines it skipped (and silences their warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = read_jsonl(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    n_lines = sum(1 for line in text.splitlines() if line.strip())
    return rows, n_lines - len(rows)


def _sample_grids(run_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for p in (run_dir / "samples").glob("step_*.png"):
        m = re.fullmatch(r"step_(\d+)\.png", p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    found.sort()
    if len(found) > MAX_SAMPLE_GRIDS:
        idx = {
            round(i * (len(found) - 1) / (MAX_SAMPLE_GRIDS - 1)) for i in range(MAX_SAMPLE_GRIDS)
        }
        found = [found[i] for i in sorted(idx)]
    return found


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise DataError(
            f"run directory not found: {run_dir}",
            hint="pass the output directory of a stablegan training run",
        )
    if not (run_dir / "metrics.jsonl").is_file():
        raise DataError(
            f"no metrics.jsonl in {run_dir}",
            hint=f"is {run_dir} a stablegan run directory?",
        )


def _diagnostic_groups(rows: Rows, cfg: Mapping[str, Any] | None = None
                       ) -> list[tuple[str, list[str]]]:
    """(title, keys) per diagnostic group with data; keys of no known group go to 'other'.
    Curves that do not apply to the run's method (``_applies``) are left out."""
    keys = [k for k in numeric_keys(rows) if not any(fnmatchcase(k, p) for p in _NOT_DIAGNOSTIC)
            and _applies(k, rows, cfg or {})]
    groups, used = [], set()
    for title, patterns in DIAGNOSTIC_GROUPS:
        ks = [k for k in keys if any(fnmatchcase(k, p) for p in patterns)]
        if ks:
            groups.append((title, ks))
            used.update(ks)
    other = [k for k in keys if k not in used]
    if other:
        groups.append(("other", other))
    return groups


def _run_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.yaml as a dict ({} when missing or unreadable)."""
    import yaml

    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _applies(key: str, rows: Rows, cfg: Mapping[str, Any]) -> bool:
    """Whether a diagnostic curve means something for this run: the critic's Wasserstein
    estimate only for a Wasserstein critic (``objective.loss=wasserstein``), learning-rate curves
    only when the rate changes (a schedule, or a rollback's cut)."""
    if key == "critic/wasserstein_estimate":
        loss = (cfg.get("objective") or {}).get("loss") if isinstance(cfg.get("objective"),
                                                                      Mapping) else None
        return loss == "wasserstein" or not cfg
    if key.startswith("lr/"):
        values = {r[key] for r in rows if isinstance(r.get(key), int | float)}
        return len(values) > 1
    return True


def _remove_old_assets(out: Path) -> None:
    """PNGs and sample copies that reports written by earlier versions left beside index.html."""
    for old in out.glob("*.png"):
        old.unlink(missing_ok=True)
    if (out / "samples").is_dir():
        shutil.rmtree(out / "samples", ignore_errors=True)


def _constant_eval_key(key: str) -> bool:
    """Keys not worth a curve: timings, sample counts and the real-vs-real floors (constant)."""
    return key.startswith(("time/", "floor/", "n_")) or key in ("step", "batches")


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report/index.html`` (losses, eval and diagnostic curves, sample grids over
    training, final eval, nearest pairs, config) and its PNGs; return the HTML path."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    out = run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        return _write_report(run_dir, out, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_report(run_dir: Path, out: Path, tmp: Path) -> Path:
    rows, skipped = _read_rows(run_dir / "metrics.jsonl")

    last = rows[-1] if rows else {}
    meta = [f"directory: <code>{_e(run_dir.resolve())}</code>", f"{len(rows)} logged iterations"]
    for key in ("step", "batches"):
        if key in last:
            meta.append(f"last {key}: {_fmt(last[key])}")
    if skipped:
        meta.append(f"{skipped} malformed line(s) skipped")
    body = [
        f"<h1>stablegan run report: {_e(run_dir.resolve().name)}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in _RUN_SECTIONS) + "</nav>",
    ]

    # Losses.
    try:
        plot_losses(rows, tmp / "losses.png")
        body.append(_section("losses", "Losses", [_img(tmp / "losses.png", "D and G loss")]))
    except DataError as err:
        body.append(_section("losses", "Losses", [_note(str(err))]))

    # Periodic evaluations.
    evals_path = run_dir / "evals.jsonl"
    parts = []
    if evals_path.is_file():
        evals, _ = _read_rows(evals_path)
        # pre-training rows (pretrain.eval_every) count their own steps: against the batches
        # consumed every row has its own place on one axis
        x = "batches" if evals and all("batches" in r for r in evals) else "step"
        keys = [k for k in numeric_keys(evals, x) if not _constant_eval_key(k)]
        if plot_curves(evals, keys, tmp / "evals.png", x=x,
                       title="evaluations during training"):
            parts.append(_img(tmp / "evals.png", "evaluation metrics over training"))
        else:
            parts.append(_note("evals.jsonl holds no finite metric values"))
    else:
        parts.append(_note("no evals.jsonl (evaluation only at the end of training)"))
    body.append(_section("evals", "Evaluations over training", parts))

    body.append(_section("health", "Training health", [_health_table(rows)]))

    # Diagnostics.
    parts = []
    for title, keys in _diagnostic_groups(rows, _run_config(run_dir)):
        name = f"diag_{_slug(title)}.png"
        if plot_curves(rows, keys, tmp / name, title=title):
            parts += [f"<h3>{_e(title)}</h3>", _img(tmp / name, title)]
    body.append(_section("diagnostics", "Diagnostics", parts or [_note("none logged")]))

    # Sample grids over training, embedded so the report is one file.
    figures = []
    for step, src in _sample_grids(run_dir):
        if not _valid_png(src):
            continue
        figures.append(
            f"<figure>{_img(src, f'samples at step {step}')}"
            f"<figcaption>step {step}</figcaption></figure>"
        )
    texts = _sample_texts(run_dir)
    parts = (
        [f'<div class="strip">{"".join(figures)}</div>'] if figures
        else texts if texts
        else [_note("no sample grids in samples/")]
    )
    body.append(_section("samples", "Samples over training (fixed noise)", parts))

    # Final evaluation.
    body.append(_section("final-eval", "Final evaluation", [_eval_table(run_dir / "eval.json")]))

    # Nearest-neighbour pairs.
    pairs = run_dir / "nearest_pairs.png"
    if pairs.is_file() and _valid_png(pairs):
        parts = [_img(pairs, "generated samples and their nearest training images")]
    else:
        parts = [_note("no nearest_pairs.png")]
    body.append(_section("nearest", "Nearest training neighbours", parts))

    # Resolved config.
    cfg = run_dir / "config.yaml"
    parts = (
        [f"<pre>{_e(cfg.read_text(encoding='utf-8', errors='replace'))}</pre>"]
        if cfg.is_file()
        else [_note("no config.yaml")]
    )
    body.append(_section("config", "Resolved config", parts))

    index = out / "index.html"
    index.write_text(_page(f"stablegan report: {run_dir.resolve().name}", body), encoding="utf-8")
    _remove_old_assets(out)
    return index


def _sample_texts(run_dir: Path, last: int = 4) -> list[str]:
    """Sentence samples (``samples/*.txt``, text runs): the last ``last`` files, one block each."""
    files = sorted((run_dir / "samples").glob("*.txt"), key=lambda p: p.stat().st_mtime)
    parts = []
    for path in files[-last:]:
        text = path.read_text(encoding="utf-8", errors="replace")
        parts.append(f"<h3>{_e(path.stem)}</h3><pre>{_e(text)}</pre>")
    return parts


def _health_table(rows: Rows) -> str:
    """The alarms that fired (rows' ``health/<name>`` keys): step, alarm, figure, advice."""
    from stablegan.training.health import ALARMS

    fired = [(r.get("step"), k[7:], r) for r in rows if "phase" not in r
             for k in r if k.startswith("health/")]
    if not fired:
        return _note("no training-health alarm fired")
    lines = ['<table><tr><th>step</th><th class="k">alarm</th><th class="k">figure</th>'
             '<th class="k">advice</th></tr>']
    for step, name, row in fired:
        alarm = ALARMS.get(name)
        figure = (f"{alarm.reads} = {_fmt(row[alarm.reads])}"
                  if alarm and alarm.reads in row else "")
        lines.append(f'<tr><td>{_fmt(step)}</td><td class="k">{_e(name)}</td>'
                     f'<td class="k">{figure}</td>'
                     f'<td class="k">{_e(alarm.advice if alarm else "")}</td></tr>')
    return "\n".join(lines) + "</table>"


def _eval_table(path: Path) -> str:
    if not path.is_file():
        return _note("no eval.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return _note("eval.json is not valid JSON")
    if not isinstance(data, Mapping) or not data:
        return _note("eval.json holds no metrics")
    sentences = data.get("samples") if isinstance(data.get("samples"), list) else None
    rows = "".join(
        f'<tr><td class="k">{_e(display(k, v)[0])}</td><td>{_fmt(display(k, v)[1])}</td></tr>'
        for k, v in _flatten(data).items() if k != "samples"
    )
    table = f'<table><tr><th class="k">metric</th><th>value</th></tr>{rows}</table>'
    if isinstance(data.get("misassigned"), str):  # conditional runs: the AC-GAN failure
        table = _note("misassigned classes (samples the domain classifier assigns to another "
                      f"class): {data['misassigned']}") + table
    if sentences:  # text runs: the final generator's sentences beside the numbers
        table += ("<h3>Generated sentences (final generator)</h3><pre>"
                  + _e("\n".join(str(x) for x in sentences)) + "</pre>")
    return table


def _load_summary(compare_dir: Path) -> dict[str, Any]:
    path = compare_dir / "summary.json"
    hint = f"is {compare_dir} the output directory of `stablegan compare`?"
    if not path.is_file():
        raise DataError(f"no summary.json in {compare_dir}", hint=hint)
    try:
        summary = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as err:
        raise DataError(f"{path} is not valid JSON ({err})", hint=hint) from None
    if not isinstance(summary, dict):
        raise DataError(f"{path} does not hold a JSON object", hint=hint)
    return summary


def _summary_table(summary: Mapping[str, Any], methods: Sequence[str]) -> str:
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), Mapping) else {}
    names: list[str] = []
    for m in methods:
        per = metrics.get(m)
        if isinstance(per, Mapping):
            names += [k for k in per if k not in names]
    if not names:
        return _note("summary.json holds no metrics")
    head = "".join(f"<th>{_e(display(n, 0.0)[0])}</th>" for n in names)
    lines = [f'<table><tr><th class="k">method</th>{head}</tr>']
    for m in methods:
        per = metrics.get(m) if isinstance(metrics.get(m), Mapping) else {}
        cells = []
        for n in names:
            s = per.get(n)
            if not isinstance(s, Mapping) or not isinstance(s.get("mean"), int | float):
                cells.append("<td>—</td>")
                continue
            values = s.get("values") if isinstance(s.get("values"), list) else []
            std = s.get("std")
            text = _fmt(display(n, s["mean"])[1])
            if isinstance(std, int | float) and math.isfinite(std) and len(values) != 1:
                text += f" ± {_fmt(display(n, std)[1])}"
            tip = ", ".join(_fmt(display(n, v)[1]) for v in values)
            cells.append(f'<td title="{tip}">{text}</td>')
        lines.append(f'<tr><td class="k">{_e(m)}</td>{"".join(cells)}</tr>')
    lines.append("</table>")
    return "".join(lines)


def _runs_by_method(
    summary: Mapping[str, Any], compare_dir: Path
) -> dict[str, list[tuple[str, Path]]]:
    """method -> [(run name, run dir)] from ``summary["runs"]``, in the order of ``methods``."""
    runs = summary.get("runs") if isinstance(summary.get("runs"), Mapping) else {}
    grouped: dict[str, list[tuple[str, Path]]] = {}
    for m in summary.get("methods") or []:
        grouped[str(m)] = []
    for name, rel in runs.items():
        method = name.rsplit("/seed", 1)[0] if "/seed" in name else name
        grouped.setdefault(method, []).append((name, compare_dir / str(rel)))
    return grouped


def write_compare_report(compare_dir: str | Path) -> Path:
    """Write ``compare_dir/report/index.html`` (mean ± std table, comparison curves against
    batches consumed, links to the runs' own reports) and its PNGs; return the HTML path."""
    compare_dir = Path(compare_dir)
    if not compare_dir.is_dir():
        raise DataError(
            f"compare directory not found: {compare_dir}",
            hint="pass the output directory of `stablegan compare`",
        )
    summary = _load_summary(compare_dir)
    from stablegan.evaluation import extractor_mismatch

    clash = extractor_mismatch(summary)
    if clash:
        raise DataError(f"refusing to put these runs in one table: {clash}",
                        hint="evaluate every run with the same network ('stablegan eval --run "
                             "DIR --set eval.classifier_path=FILE'), then rerun the compare "
                             "command to rebuild summary.json")
    out = compare_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        return _write_compare_report(compare_dir, summary, out, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_compare_report(compare_dir: Path, summary: dict[str, Any], out: Path,
                          tmp: Path) -> Path:
    grouped = _runs_by_method(summary, compare_dir)
    methods = list(grouped)

    seeds = summary.get("seeds") or []
    meta = [
        f"recipe: <code>{_e(summary.get('recipe', '?'))}</code>",
        f"steps: {_fmt(summary.get('steps', '?'))}",
        f"seeds: {_e(', '.join(str(s) for s in seeds))}",
    ]
    body = [
        f"<h1>stablegan comparison: {_e(compare_dir.resolve().name)}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        _section(
            "summary", "Final metrics (mean ± std over seeds)", [_summary_table(summary, methods)]
        ),
    ]

    evals: dict[str, list[list[dict[str, Any]]]] = {m: [] for m in methods}
    metrics: dict[str, list[list[dict[str, Any]]]] = {m: [] for m in methods}
    missing: list[str] = []
    for m, runs in grouped.items():
        for name, run_dir in runs:
            if (run_dir / "evals.jsonl").is_file():
                evals[m].append(_read_rows(run_dir / "evals.jsonl")[0])
            if (run_dir / "metrics.jsonl").is_file():
                metrics[m].append(_read_rows(run_dir / "metrics.jsonl")[0])
            else:
                missing.append(name)

    parts = []
    eval_keys: list[str] = []
    for seed_rows in evals.values():
        for rows in seed_rows:
            eval_keys += [k for k in numeric_keys(rows, "batches")
                          if k not in eval_keys and not _constant_eval_key(k)]
    for key in eval_keys:
        if key in AXIS_KEYS or key.startswith("time/"):
            continue
        name = f"compare_{_slug(key)}.png"
        if plot_compare(evals, key, tmp / name, x="batches"):
            parts.append(_img(tmp / name, f"{key} against batches consumed"))
    if plot_loss_variance_compare(metrics, tmp / "loss_variance.png", x="batches"):
        parts.append(_img(tmp / "loss_variance.png",
                          "rolling loss variance against batches consumed"))
    if missing:
        parts.append(_note(f"runs without metrics.jsonl: {', '.join(missing)}"))
    body.append(
        _section(
            "curves",
            "Curves against batches consumed (mean ± std over seeds)",
            parts or [_note("no evals.jsonl or metrics.jsonl in the runs")],
        )
    )

    items = []
    for runs in grouped.values():
        for name, run_dir in runs:
            report = run_dir / "report" / "index.html"
            if report.is_file():
                rel = os.path.relpath(report, out)
                items.append(f'<li><a href="{_src(rel)}">{_e(name)}</a></li>')
            else:
                items.append(
                    f"<li>{_e(name)} <span class='note'>(no report yet: "
                    f"<code>{_e(run_dir)}</code>)</span></li>"
                )
    body.append(
        _section(
            "runs",
            "Runs",
            [f"<ul>{''.join(items)}</ul>" if items else _note("summary.json lists no runs")],
        )
    )

    index = out / "index.html"
    index.write_text(
        _page(f"stablegan comparison: {compare_dir.resolve().name}", body), encoding="utf-8"
    )
    _remove_old_assets(out)
    return index
