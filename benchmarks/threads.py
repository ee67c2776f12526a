"""Torch threads: seconds per training step at 1 and 2 (or more) intra-op threads.

    nice -n 10 python benchmarks/threads.py [--threads 1,2] [--rounds 5] [--steps 10]
        [--setups ring,coco-pretrain,coco-adversarial,digits] [--coco DIR]

Each setup builds its recipe's trainer once and times ``--steps`` steps of one phase (the
method's step function, which is where the threads work) at each thread count in turn,
interleaved over ``--rounds`` rounds (the order reversed every other round, so a change in the
machine's load falls on both counts); prints one JSON object with the median seconds per step
and the ratio of each count to one thread. docs/benchmarks.md "Torch threads" records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from stablegan.recipes import load_config
from stablegan.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
COCO = ROOT.parent / "shared" / "data" / "text" / "coco"
COMMON = ["log.progress=false", "log.tensorboard=false", "health.enabled=false"]
# setup -> (recipe, overrides, phase name)
SETUPS: dict[str, tuple[str, list[str], str]] = {
    "ring": ("ring", [], "adversarial"),
    "ring-ppo-gan": ("ring", ["method=ppo-gan"], "adversarial"),
    "coco-pretrain": ("coco", [], "pretrain"),
    "coco-adversarial": ("coco", ["pretrain.steps=0"], "adversarial"),
    "digits": ("digits", [], "adversarial"),
}


def build(setup: str, coco: Path) -> tuple[Trainer, Any]:
    recipe, extra, phase_name = SETUPS[setup]
    if recipe == "coco":
        extra = [*extra, f"data.path={coco}"]
    cfg = load_config(recipe, None, [*COMMON, *extra], 100_000, 0)
    t = Trainer.from_config(cfg)
    phase = next(p for p in t.method.phases(cfg.steps) if p.name == phase_name)
    return t, phase


def time_steps(phase: Any, steps: int, start: int) -> float:
    t0 = time.perf_counter()
    for i in range(steps):
        phase.step(start + i, False)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--setups", default="ring,coco-pretrain,coco-adversarial,digits")
    ap.add_argument("--coco", default=str(COCO))
    args = ap.parse_args()
    counts = [int(n) for n in args.threads.split(",")]
    out: dict[str, Any] = {"cores": os.cpu_count(), "load_before": os.getloadavg()[0],
                           "rounds": args.rounds, "steps": args.steps}
    for setup in args.setups.split(","):
        t, phase = build(setup, Path(args.coco))
        seconds: dict[int, list[float]] = {n: [] for n in counts}
        done = 0
        torch.set_num_threads(counts[0])
        time_steps(phase, 2, done)  # warm-up (allocator, first-call costs)
        done += 2
        for r in range(args.rounds):
            for n in (counts if r % 2 == 0 else counts[::-1]):
                torch.set_num_threads(n)
                seconds[n].append(time_steps(phase, args.steps, done))
                done += args.steps
        med = {n: statistics.median(v) for n, v in seconds.items()}
        out[setup] = {f"sec_per_step/{n}": round(med[n], 5) for n in counts}
        out[setup].update({f"ratio/{n}_over_1": round(med[n] / med[counts[0]], 3)
                           for n in counts[1:]})
        print(json.dumps({setup: out[setup]}), flush=True)
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
