"""The ablation harness: every (method, seed) on one recipe, at equal budgets, summarised.

``run_compare`` launches one ``stablegan train`` subprocess per (method, seed), up to ``jobs`` at a
time (one torch thread each), into ``OUT/<method>/seed<k>/``. A finished run (its ``eval.json``
is newer than its last checkpoint and it reached its step budget) is skipped, an interrupted one is
resumed, so rerunning the same command after a kill continues where it stopped.

Budgets: ``steps`` gives every method the same number of iterations; ``batches`` gives every method
the same number of minibatch updates of all networks together (critic + generator + ratio
classifier), the x-axis of Fig. 3 in Wu et al. (2020), so that 5:5 and 5:1 schedules are compared
at equal compute: ``steps_m = batches // updates_per_iteration``, the cost of one iteration as
the method reports it (n_critic + n_gen, plus n_gen classifier steps for the ratio classifier).

Outputs: ``summary.json`` (mean, std and values per metric and method), ``summary.md`` (the same
as a table), ``curves.png`` (each evaluated metric against batches consumed, mean +- std over
seeds) and ``loss_variance.png`` (rolling variance of the D and G losses against batches).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stablegan.config import Config, read_yaml
from stablegan.data import task_name
from stablegan.errors import ConfigError, StableganError
from stablegan.evaluation import extractor_mismatch
from stablegan.methods import method_for
from stablegan.recipes import load_config


def batches_per_iteration(cfg: Config) -> int:
    """Minibatch updates of all networks in one iteration of ``cfg``'s schedule, as the method
    that trains ``cfg``'s data reports it (``method_for(cfg, task).updates_per_iteration``: the
    class the trainer builds, e.g. ``StyleMethod`` for the style task)."""
    return method_for(cfg, task_name(cfg.data, cfg.seed)).updates_per_iteration(cfg)


def plan_runs(recipe: str, methods: list[str], seeds: list[int], steps: int | None,
              batches: int | None, overrides: list[str]) -> list[dict[str, Any]]:
    """Resolve each (method, seed) config up front so a bad method fails before any run starts."""
    if (steps is None) == (batches is None):
        raise ConfigError("give exactly one of --steps or --batches")
    if not methods or not seeds:
        raise ConfigError("--methods and --seeds must each name at least one entry")
    plans = []
    for spec in methods:
        extra = method_overrides(spec)
        cfg = load_config(recipe, overrides=[*overrides, *extra])
        per_it = batches_per_iteration(cfg)
        n = steps if steps is not None else max(1, batches // per_it)  # type: ignore[operator]
        folder = re.sub(r"[^A-Za-z0-9._=-]+", "_", spec)
        for seed in seeds:
            plans.append({"method": spec, "seed": seed, "steps": n, "overrides": extra,
                          "batches_per_iteration": per_it,
                          "key": f"{spec}/seed{seed}", "dir": f"{folder}/seed{seed}"})
    return plans


def method_overrides(spec: str) -> list[str]:
    """``"ppo-gan+variational.eps=0.2"`` -> ``["method=ppo-gan", "variational.eps=0.2"]``: a
    preset name, optionally followed by ``+key=value`` settings that make a variant of it."""
    name, *settings = [p.strip() for p in spec.split("+")]
    for item in settings:
        if "=" not in item:
            raise ConfigError(f"method variant '{spec}': '{item}' is not key=value",
                              hint="write NAME+key=value, e.g. ppo-gan+variational.eps=0.2")
    return [f"method={name}", *settings]


def _is_finished(run_dir: Path, steps: int) -> bool:
    ev, ckpt = run_dir / "eval.json", run_dir / "checkpoints" / "last.pt"
    if not (ev.is_file() and ckpt.is_file()) or ev.stat().st_mtime < ckpt.stat().st_mtime:
        return False
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    try:
        return bool(rows) and int(json.loads(rows[-1])["step"]) >= steps
    except (ValueError, KeyError, json.JSONDecodeError):
        return False


def _check_budget(run_dir: Path, steps: int, overrides: list[str]) -> None:
    """A run directory trained (or started) with another budget is not this plan's run: skipping
    it as finished would report its numbers under this plan's budget, resuming it would mix two.
    Compares ``steps`` and a ``pretrain.steps=N`` override with the run's saved config.yaml."""
    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        return
    saved = read_yaml(saved_path)
    want = {"steps": steps}
    for item in overrides:
        key, _, value = item.partition("=")
        if key.strip() == "pretrain.steps" and value.strip().isdigit():
            want["pretrain.steps"] = int(value)
    for key, value in want.items():
        node: Any = saved
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and node != value:
            raise StableganError(
                f"'{run_dir}' holds a run with {key}={node}, but this plan runs {key}={value}",
                hint="use another --out for the new budget, or delete that folder to rerun it")


def _run_one(plan: dict[str, Any], recipe: str, out: Path, overrides: list[str],
             eval_every: int, show_progress: bool) -> dict[str, Any]:
    run_dir = out / plan["dir"]
    _check_budget(run_dir, plan["steps"], [*overrides, *plan["overrides"]])
    if _is_finished(run_dir, plan["steps"]):
        return {**plan, "status": "skipped (finished)", "seconds": 0.0}
    cmd = [sys.executable, "-m", "stablegan", "train", "--recipe", recipe,
           "--seed", str(plan["seed"]), "--steps", str(plan["steps"]), "--out", str(run_dir),
           "--set", f"eval.every={eval_every}"]
    for o in [*overrides, *plan["overrides"]]:
        cmd += ["--set", o]
    resumed = (run_dir / "checkpoints" / "last.pt").is_file()
    if resumed:
        cmd.append("--resume")
    if not show_progress:
        cmd.append("--quiet")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "train.log", "a", encoding="utf-8") as log:
        proc = subprocess.run(cmd, env=env, stdout=log,
                              stderr=None if show_progress else subprocess.STDOUT)
    status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    return {**plan, "status": status + (" (resumed)" if resumed else ""),
            "seconds": time.perf_counter() - t0}


def _mean_std(values: list[float]) -> dict[str, Any]:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "values": values}
    mean = sum(finite) / len(finite)
    std = (sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) ** 0.5 if len(finite) > 1 \
        else 0.0
    return {"mean": mean, "std": std, "values": values}


def summarise(out: Path, recipe: str, plans: list[dict[str, Any]],
              results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Read every run's eval.json and metrics.jsonl into summary.json / summary.md / plots."""
    from stablegan.reports import plot_loss_variance_compare, read_jsonl

    methods = list(dict.fromkeys(p["method"] for p in plans))
    seeds = list(dict.fromkeys(p["seed"] for p in plans))
    per_method: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    curves: dict[str, list[list[dict[str, Any]]]] = {m: [] for m in methods}
    evals: dict[str, list[list[dict[str, Any]]]] = {m: [] for m in methods}
    stability: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    extractors: dict[str, Any] = {}
    for p in plans:
        run_dir = out / p["dir"]
        ev = run_dir / "eval.json"
        if ev.is_file():
            result = json.loads(ev.read_text())
            if isinstance(result.get("feature_extractors"), dict):
                extractors[p["key"]] = result["feature_extractors"]
            for k, v in result.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n_eval":
                    per_method[p["method"]].setdefault(k, []).append(float(v))
        if (run_dir / "metrics.jsonl").is_file():
            rows = read_jsonl(run_dir / "metrics.jsonl")
            curves[p["method"]].append(rows)
            for key in ("loss/d", "loss/g", "grad/d_fake_norm"):
                vals = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
                vals = [v for v in vals if math.isfinite(v)]
                if len(vals) > 2:
                    half = vals[len(vals) // 2:]  # after the transient: the second half
                    m = sum(half) / len(half)
                    var = sum((v - m) ** 2 for v in half) / (len(half) - 1)
                    stability[p["method"]].setdefault(f"var2/{key}", []).append(var)
        if (run_dir / "evals.jsonl").is_file():
            evals[p["method"]].append(read_jsonl(run_dir / "evals.jsonl"))
    metrics = {m: {k: _mean_std(v) for k, v in {**per_method[m], **stability[m]}.items()}
               for m in methods}
    summary = {"recipe": recipe, "steps": {p["method"]: p["steps"] for p in plans},
               "methods": methods, "seeds": seeds,
               "runs": {p["key"]: p["dir"] for p in plans}, "metrics": metrics}
    if extractors:
        summary["feature_extractors"] = extractors
    if results is not None:
        summary["status"] = {r["key"]: r["status"] for r in results}
    clash = extractor_mismatch(summary)
    if clash:
        summary["refused"] = clash
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if clash:
        (out / "summary.md").unlink(missing_ok=True)
        raise StableganError(
            f"refusing to tabulate: {clash}",
            hint="evaluate every run with the same network, e.g. 'stablegan eval --run DIR --set "
                 "eval.classifier_path=FILE' for each run (or delete the runs' classifier.pt to "
                 "use the cached one), then rerun the same compare command: finished runs are "
                 "skipped and the summary is rebuilt")
    (out / "summary.md").write_text(summary_markdown(summary))
    metric_keys = sorted({k for m in methods for r in sum(evals[m], []) for k, v in r.items()
                          if k not in ("step", "batches", "n_eval") and not k.startswith("floor/")
                          and isinstance(v, (int, float)) and not isinstance(v, bool)})
    _curves_png(evals, metric_keys, out / "curves.png")
    plot_loss_variance_compare(curves, out / "loss_variance.png", x="batches")
    return summary


def _curves_png(evals: dict[str, list[list[dict[str, Any]]]], keys: list[str], path: Path) -> None:
    """One panel per evaluated metric: mean +- std over seeds against batches consumed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from stablegan.reports.plots import seed_band, series

    keys = keys or ["swd"]
    labels, shared = short_labels(list(evals))
    cols = min(3, len(keys))
    rows_n = (len(keys) + cols - 1) // cols
    fig = Figure(figsize=(4.6 * cols, 3.6 * rows_n))
    FigureCanvasAgg(fig)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows_n, cols, i + 1)
        for j, (method, runs) in enumerate(evals.items()):
            grid, mean, std, n = seed_band([series(rows, key, x="batches") for rows in runs])
            if n == 0:
                continue
            ax.plot(grid, mean, "o-", markersize=3, color=f"C{j % 10}",
                    label=f"{labels[method]} (n={n})")
            ax.fill_between(grid, mean - std, mean + std, color=f"C{j % 10}", alpha=0.2)
        ax.set_xlabel("batches consumed (D + G + C updates)")
        ax.set_title(f"{key} (mean ± std over seeds)", fontsize=10)
        ax.grid(alpha=0.3)
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(3, max(1, len(names))), fontsize=8,
               frameon=False)
    if shared:
        fig.suptitle(f"every method with {shared}", fontsize=9)
    rows_legend = (len(names) + 2) // 3
    fig.tight_layout(rect=(0, 0.05 * rows_legend + 0.02, 1, 0.97 if shared else 1))
    fig.savefig(path, dpi=100)


def short_labels(specs: list[str]) -> tuple[dict[str, str], str]:
    """Drop the ``+key=value`` settings every method spec shares; return labels and those."""
    parts = {s: s.split("+") for s in specs}
    common = set.intersection(*(set(p[1:]) for p in parts.values())) if specs else set()
    labels = {s: "+".join([p[0], *[x for x in p[1:] if x not in common]])
              for s, p in parts.items()}
    return labels, ", ".join(sorted(common))


def summary_markdown(summary: dict[str, Any]) -> str:
    methods = summary["methods"]
    keys = sorted({k for m in methods for k in summary["metrics"][m]})
    lines = [f"# {summary['recipe']}: {', '.join(methods)} over seeds "
             f"{', '.join(map(str, summary['seeds']))}", "",
             "Iterations per method: " + ", ".join(f"{m} {n}" for m, n in summary["steps"].items()),
             "", "| metric | " + " | ".join(methods) + " |",
             "|---|" + "---|" * len(methods)]
    from stablegan.reports.table import DISPLAY_SCALE, display

    for k in keys:
        cells = []
        for m in methods:
            s = summary["metrics"][m].get(k)
            cells.append("–" if not s or s["mean"] is None else
                         f"{display(k, s['mean'])[1]:.4g} ± {display(k, s['std'])[1]:.2g}")
        lines.append(f"| {display(k, 0.0)[0]} | " + " | ".join(cells) + " |")
    lines += ["", "`var2/*`: variance of the logged value over the second half of training."]
    if any(k.removeprefix("floor/").split("/")[0] in DISPLAY_SCALE for k in keys):
        lines.append("`kid ×10³`: KID shown multiplied by 1000, the scale papers report; "
                     "summary.json and eval.json keep the raw value.")
    return "\n".join(lines) + "\n"


def run_compare(recipe: str, methods: list[str], seeds: list[int], out: str | Path, *,
                steps: int | None = None, batches: int | None = None,
                overrides: list[str] | None = None, jobs: int | None = None,
                evals: int = 10) -> dict[str, Any]:
    """Run (or resume) every (method, seed) and write the summary; returns summary.json's dict."""
    overrides = overrides or []
    out = Path(out)
    plans = plan_runs(recipe, methods, seeds, steps, batches, overrides)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(plans)))
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps({"recipe": recipe, "overrides": overrides,
                                               "runs": plans}, indent=2) + "\n")
    show = jobs == 1
    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_one, p, recipe, out, overrides,
                               max(1, p["steps"] // evals), show) for p in plans]
        for f in futures:
            r = f.result()
            results.append(r)
            print(f"  {r['key']:32s} {r['steps']:6d} it  {r['status']}  ({r['seconds']:.0f} s)",
                  file=sys.stderr)
    failed = [r for r in results if r["status"].startswith("failed")]
    summary = summarise(out, recipe, plans, results)
    if failed:
        keys = ", ".join(r["key"] for r in failed)
        raise StableganError(f"{len(failed)} run(s) failed: {keys}",
                             hint=f"see train.log in each run directory under {out}; rerun the "
                             "same command to resume")
    return summary
