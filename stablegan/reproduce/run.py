"""``stablegan reproduce NAME``: probe, plan, run (packed, resumable), then the table.

1. The table's settings (``tables.py``; ``--smoke``: its toy sizes on top) and the device: CUDA
   when torch sees one (every run gets ``device=cuda`` unless ``--set device=...`` says
   otherwise), else the CPU.
2. The probe (``probe.py``) measures each method's per-iteration cost and peak memory at those
   settings, once: ``OUT/probe.json`` keeps it for the same settings, so a rerun does not probe
   again.
3. The plan (``plan.py``): the runs, how many at once (GPU: as many as fit in its free memory;
   CPU: one per core; ``--jobs``), the expected wall time; printed before anything runs
   (``--dry-run`` stops there) and written to ``OUT/plan.json``.
4. The runs, through ``stablegan.compare``'s runner: one ``stablegan train`` process each, a
   finished run skipped, an interrupted one resumed from its checkpoint (``--resume``), so
   rerunning the same command continues. Stage 1 (pre-training, one run per seed) before stage
   2 (the methods, each from its seed's pre-trained network).
5. The measured table beside the published numbers: ``OUT/table.md``, ``OUT/table.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from stablegan.compare import _mean_std, _run_one, method_overrides
from stablegan.data.files import find_cifar
from stablegan.errors import ConfigError, StableganError
from stablegan.evaluation import extractor_mismatch
from stablegan.recipes import load_config
from stablegan.reproduce.plan import (
    Cost,
    RunPlan,
    build_runs,
    choose_jobs,
    duration,
    estimate,
    folder,
    plan_text,
)
from stablegan.reproduce.probe import probe, startup_seconds
from stablegan.reproduce.tables import Table, get_table


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def select_rows(table: Table, names: list[str] | None) -> list[str]:
    """Labels of the rows named in ``names`` (a row's label or method spec, any case); every
    row when ``names`` is empty. The pre-training row always belongs to a table with that stage."""
    if not names:
        return [r.label for r in table.rows]
    keys = {k.lower(): r.label for r in table.rows for k in (r.label, r.spec or "") if k}
    unknown = [n for n in names if n.lower() not in keys]
    if unknown:
        listed = ", ".join(f"{r.label} ({r.spec or 'the pre-training stage'})" for r in table.rows)
        raise ConfigError(f"--methods: {', '.join(unknown)} not in table {table.name}",
                          hint=f"its rows: {listed}")
    wanted = {keys[n.lower()] for n in names}
    return [r.label for r in table.rows if r.label in wanted or r.spec is None]


def table_settings(table: Table, smoke: bool, user: list[str]) -> tuple[list[str], str]:
    """The overrides every run of the table gets, and the device."""
    overrides = [*table.settings, *(table.smoke if smoke else ()), *user]
    device = next((o.split("=", 1)[1] for o in reversed(overrides) if o.startswith("device=")),
                  None)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        overrides.append(f"device={device}")
    return overrides, device


def check_data(table: Table, overrides: list[str]) -> None:
    """The table's data are there, before anything is probed (CIFAR-10: the files under
    ``data.path``; other data are checked when the probe loads them)."""
    cfg = load_config(table.recipe, overrides=overrides)
    if table.needs_cifar and find_cifar(Path(cfg.data.path or "")) is None:
        raise ConfigError(f"reproduce {table.name}: the CIFAR-10 files are not under data.path "
                          f"({cfg.data.path}): data_batch_1..5 in it or in its "
                          "cifar-10-batches-py/, or cifar-10-python.tar.gz",
                          hint="--set data.path=DIR (the folder holding them), or --set "
                               "data.download=true on a machine that can reach the internet")


def measure_costs(table: Table, specs: list[str], overrides: list[str], out: Path, iters: int,
                  log: Callable[[str], None]) -> dict[str, Cost]:
    """Each method's :class:`Cost`, from ``OUT/probe.json`` when it was measured at the same
    settings, else probed now (and saved)."""
    path = out / "probe.json"
    cache: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    key = pretrain = table.pretrain.key if table.pretrain else None
    sig = {"recipe": table.recipe, "overrides": overrides, "iters": iters, "stage": key}
    if cache.get("settings") != sig:
        cache = {"settings": sig, "costs": {}}
    costs: dict[str, Cost] = {}
    startup = cache.get("startup")
    for spec in specs:
        if spec in cache["costs"]:
            costs[spec] = Cost(**cache["costs"][spec])
            continue
        if startup is None:
            startup = cache["startup"] = startup_seconds()
        log(f"probe: {spec}, {iters + 1} steps per phase ...")
        where = out / "probe" / folder(spec)
        shutil.rmtree(where, ignore_errors=True)
        t0 = time.perf_counter()
        costs[spec] = probe(table.recipe, [*overrides, *method_overrides(spec)], pretrain, where,
                            iters, startup)
        log(f"probe: {spec} took {time.perf_counter() - t0:.0f} s")
        cache["costs"][spec] = costs[spec].to_dict()
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache, indent=2) + "\n")
    return costs


def _run_stage(runs: list[RunPlan], recipe: str, out: Path, overrides: list[str], jobs: int,
               skip: dict[int, str], log: Callable[[str], None]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    todo = [r for r in runs if r.seed not in skip]
    for r in runs:
        if r.seed in skip:
            results.append({"key": r.key, "status": skip[r.seed], "seconds": 0.0})
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_run_one, r.for_compare(), recipe, out, overrides, 0, False): r
                   for r in todo}
        for f, r in futures.items():
            res = f.result()
            results.append({"key": r.key, "status": res["status"], "seconds": res["seconds"],
                            "expected": r.seconds})
            log(f"  {r.key:36s} {res['status']:24s} {res['seconds']:7.0f} s "
                f"(expected {duration(r.seconds)})")
    return results


def _cell(s: dict[str, Any]) -> str:
    if s.get("mean") is None:
        return "–"
    n = len([v for v in s["values"] if v is not None])
    return f"{s['mean']:.4g} ± {s['std']:.2g} ({n})" if n > 1 else f"{s['mean']:.4g}"


def measured_table(table: Table, runs: list[RunPlan], out: Path, smoke: bool = False
                   ) -> dict[str, Any]:
    """Mean, std and values over seeds of every metric of every row run, beside the published
    value and its source."""
    keys = table.metrics_for(smoke)
    rows_out = []
    extractors: dict[str, Any] = {}
    for row in table.rows:
        mine = [r for r in runs if r.label == row.label]
        if not mine:
            continue
        values: dict[str, list[float]] = {k: [] for k in keys}
        for r in mine:
            ev = out / r.dir / "eval.json"
            result = json.loads(ev.read_text()) if ev.is_file() else {}
            if isinstance(result.get("feature_extractors"), dict):
                extractors[r.key] = result["feature_extractors"]
            for k in keys:
                v = result.get(k)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    values[k].append(float(v))
        metrics = {}
        for k in keys:
            pub = row.published.get(k)
            metrics[k] = {**_mean_std(values[k]), "published": pub.value if pub else None,
                          "source": pub.source if pub else None}
        rows_out.append({"label": row.label, "spec": row.spec,
                         "seeds": sorted({r.seed for r in mine}), "metrics": metrics})
    clash = extractor_mismatch({"feature_extractors": extractors})
    if clash:  # as compare refuses such a summary: numbers of different networks side by side
        raise StableganError(f"reproduce {table.name}: {clash}",
                             hint="rerun the runs that scored with another network (delete their "
                                  "folders), so that every run shares one cached network")
    return {"table": table.name, "title": table.title, "metrics": list(keys), "rows": rows_out}


def table_markdown(result: dict[str, Any], table: Table, header: list[str]) -> str:
    cols = [c for k in result["metrics"] for c in (k, "published")]
    lines = [f"# reproduce {table.name}: {table.title}", "", *header, "",
             "| row | method | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    sources: list[str] = []
    for row in result["rows"]:
        cells = []
        for k in result["metrics"]:
            s = row["metrics"][k]
            cells += [_cell(s), "–" if s["published"] is None else f"{s['published']:.4g}"]
            if s["source"] and s["source"] not in sources:
                sources.append(s["source"])
        method = row["spec"] or f"pre-training ({table.pretrain.key if table.pretrain else ''})"
        lines.append(f"| {row['label']} | {method} | " + " | ".join(cells) + " |")
    lines += ["", "Measured: mean ± std over seeds (n); '–': not measured, or no published number "
              "in our sources.", ""]
    lines += [f"Source: {s}." for s in sources]
    lines += [f"Note: {n}." for n in table.notes]
    return "\n".join(lines) + "\n"


def reproduce(name: str, out: str | Path | None = None, *, smoke: bool = False,
              dry_run: bool = False, jobs: int | None = None, methods: list[str] | None = None,
              seeds: list[int] | None = None, overrides: list[str] | None = None,
              probe_iters: int | None = None, steps: int | None = None,
              pretrain_steps: int | None = None, log: Callable[[str], None] = _err
              ) -> dict[str, Any]:
    """Plan, run (or resume) and tabulate table ``name``; returns table.json's dict (the plan's
    under ``dry_run``). ``steps`` / ``pretrain_steps`` replace the table's budgets (the
    adversarial iterations of each method run, the pre-training steps of each seed)."""
    table = get_table(name)
    out = Path(out or f"runs/reproduce-{name}{'-smoke' if smoke else ''}")
    common, device = table_settings(table, smoke, list(overrides or []))
    check_data(table, common)
    labels = select_rows(table, methods)
    seeds = list(seeds) if seeds else ([table.seeds[0]] if smoke else list(table.seeds))
    for what, value in (("--steps", steps), ("--pretrain-steps", pretrain_steps)):
        if value is not None and value < 0:
            raise ConfigError(f"{what} must be >= 0, got {value}")
    if pretrain_steps is not None and table.pretrain is None:
        raise ConfigError(f"table {table.name} has no pre-training stage",
                          hint="leave --pretrain-steps out")
    if steps is None:
        steps = table.smoke_steps if smoke else table.steps
    pre_steps = 0
    if table.pretrain:
        pre_steps = table.pretrain.smoke_steps if smoke else table.pretrain.steps
        pre_steps = pre_steps if pretrain_steps is None else pretrain_steps
    runs = build_runs(table, labels, seeds, out, steps, pre_steps)
    specs = list(dict.fromkeys(r.spec for r in runs if r.spec))
    if not specs:
        raise ConfigError(f"--methods selects no method run of table {table.name}",
                          hint="name at least one method row, e.g. --methods relgan")
    iters = probe_iters or (2 if smoke else 3)
    costs = measure_costs(table, specs, common, out, iters, log)
    free = torch.cuda.mem_get_info()[0] / 2**20 if device.startswith("cuda") else None
    widest = max(sum(r.stage == s for r in runs) for s in ("pretrain", "method"))
    n_jobs, why = choose_jobs(device, os.cpu_count() or 1, widest,
                              max(c.peak_mib for c in costs.values()), free, jobs)
    wall = estimate(runs, costs, n_jobs)
    text = plan_text(table, runs, costs, wall, device, n_jobs, why, smoke)
    print(text, flush=True)
    plan = {"table": table.name, "smoke": smoke, "device": device, "jobs": n_jobs, "why": why,
            "overrides": common, "costs": {k: c.to_dict() for k, c in costs.items()},
            "wall": wall, "runs": [vars(r) for r in runs]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps(plan, indent=2) + "\n")
    if dry_run:
        return plan
    t0 = time.perf_counter()
    pre = [r for r in runs if r.stage == "pretrain"]
    results = _run_stage(pre, table.recipe, out, common, n_jobs, {}, log)
    failed = {r.seed: f"skipped (pre-training of seed {r.seed} failed)"
              for r, res in zip(pre, results) if res["status"].startswith("failed")}
    results += _run_stage([r for r in runs if r.stage == "method"], table.recipe, out, common,
                          n_jobs, failed, log)
    wall_s = time.perf_counter() - t0
    result = measured_table(table, runs, out, smoke)
    result.update(plan={k: plan[k] for k in ("device", "jobs", "why", "overrides", "wall")},
                  smoke=smoke, status={r["key"]: r["status"] for r in results},
                  measured_wall_seconds=wall_s)
    header = [f"Settings: recipe {table.recipe} with {' '.join(common)}; seeds "
              f"{', '.join(map(str, seeds))}; {steps:,} adversarial iterations"
              + (f" after {pre_steps:,} pre-training steps ({table.pretrain.key})"
                 if table.pretrain else "") + ".",
              f"Device: {device}, {n_jobs} runs at a time; wall time {duration(wall_s)} "
              f"(planned {duration(wall['total'])}; a run found finished costs 0 s)."]
    if smoke:
        header.insert(0, "**Toy size (--smoke): checks the pipeline; not comparable with the "
                         "published numbers.**")
    md = table_markdown(result, table, header)
    (out / "table.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "table.md").write_text(md)
    print(md, flush=True)
    bad = [r["key"] for r in results if r["status"].startswith(("failed", "skipped (pre"))]
    if bad:
        raise StableganError(f"{len(bad)} run(s) of {table.name} did not finish: "
                             f"{', '.join(bad)}", hint=f"see train.log in each run directory "
                             f"under {out}; rerun the same command to resume")
    return result

