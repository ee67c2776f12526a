"""Measure what one run of a config costs: a few steps of each phase, timed, and its peak memory.

The probe trains the run's own config (same networks, data, evaluation) for ``iters + 1``
pre-training steps and ``iters + 1`` adversarial iterations in this process, with every step
logged (``log.every=1``; the trainer's ``time/sec`` per step), no periodic evaluation and one
checkpoint at the end. Per step: the median over the steps after the first (the first pays for
allocation and warm-up). ``fixed``: the probe's wall time outside its steps (data, networks,
the final evaluation, the checkpoint). Peak memory: on a GPU ``torch.cuda.max_memory_reserved``
plus the process's CUDA context (measured by NVML when torch can reach it, else
``CUDA_CONTEXT_MIB``); on a CPU the resident-set peak of this process so far (an upper bound).
"""

from __future__ import annotations

import gc
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from stablegan.recipes import load_config
from stablegan.reproduce.plan import Cost
from stablegan.training.trainer import Trainer

CUDA_CONTEXT_MIB = 600.0  # a typical CUDA context when NVML cannot measure it (not measured)
PRETRAIN_PHASES = ("pretrain", "autoencoder")


def startup_seconds() -> float:
    """Wall time of a fresh Python importing torch and the trainer: what each run pays first."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import stablegan.training.trainer"], check=True)
    return time.perf_counter() - t0


def _context_mib(device: str) -> float:
    try:
        before = torch.cuda.device_memory_used(device) if torch.cuda.is_initialized() else None
    except Exception:  # noqa: BLE001 - NVML (pynvml) absent or not allowed: the constant
        return CUDA_CONTEXT_MIB
    return CUDA_CONTEXT_MIB if before is None else max(
        0.0, (before - torch.cuda.memory_reserved(device)) / 2**20)


def probe(recipe: str, overrides: list[str], pretrain_key: str | None, out_dir: Path,
          iters: int = 3, startup: float = 0.0) -> Cost:
    """The cost of one run of ``recipe`` + ``overrides`` (see the module docstring)."""
    extra = ["threads=1", "log.every=1", "eval.every=0", "log.checkpoint_every=1000000",
             "log.progress=false", "log.tensorboard=false"]
    if pretrain_key:
        extra.append(f"{pretrain_key}={iters + 1}")
    cfg = load_config(recipe, overrides=[*overrides, *extra], steps=iters + 1, seed=0)
    cuda = cfg.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(cfg.device)
    t0, c0 = time.perf_counter(), time.process_time()
    trainer = Trainer.from_config(cfg, out_dir=out_dir)
    trainer.fit()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = [r for r in trainer.history if isinstance(r.get("time/sec"), float)]
    pre = [r["time/sec"] for r in rows if r.get("phase") in PRETRAIN_PHASES]
    adv = [r["time/sec"] for r in rows if "phase" not in r]
    if cuda:
        peak = torch.cuda.max_memory_reserved(cfg.device) / 2**20 + _context_mib(cfg.device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    del trainer  # the runs after the probe need the memory it held
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return Cost(startup=startup,
                fixed=max(0.0, wall - sum(pre) - sum(adv)),
                pretrain_step=statistics.median(pre[1:] or pre) if pre else 0.0,
                step=statistics.median(adv[1:] or adv) if adv else 0.0,
                peak_mib=peak, cpu_fraction=min(1.0, cpu / wall) if wall > 0 else 1.0)
