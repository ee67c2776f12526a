"""Per-iteration time of each text method on one recipe, interleaved in one process.

    python benchmarks/text_speed.py [--recipe oracle] [--reps 3] [--json] [--set key=value ...]

Methods: MLE (one teacher-forced step), relgan (RSGAN, 5:1), wgan-gp (5:1, GP on relaxed
one-hots), ppo-gan with the classifier ratio (5 critic steps, then a C step and a G step) and
with the exact ratio (5 critic steps, then 5 PPO steps on one batch of sentences from G_old).
Prints seconds per iteration, minibatch updates per iteration and seconds per update, each the
median of ``reps`` interleaved rounds, and the ratio to relgan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from stablegan import Trainer
from stablegan.recipes import load_config

METHODS = {
    "relgan": [],
    "wgan-gp": [],
    "ppo-gan (classifier)": ["method=ppo-gan", "schedule.n_gen=1"],
    "ppo-gan (exact)": ["method=ppo-gan", "variational.ratio=exact",
                        "variational.advantage=centered"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recipe", default="oracle")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = ["log.progress=false", "log.tensorboard=false", "pretrain.steps=0", *args.overrides]
    trainers = {}
    for name, extra in METHODS.items():
        method = [] if extra and extra[0].startswith("method=") else [f"method={name}"]
        cfg = load_config(args.recipe, overrides=[*base, *method, *extra], steps=10)
        trainers[name] = Trainer.from_config(cfg)
        trainers[name].method.iteration(0, False)  # warm-up (allocations)
    times: dict[str, list[float]] = {n: [] for n in [*METHODS, "mle"]}
    for _ in range(args.reps):
        for name, t in trainers.items():
            t0 = time.perf_counter()
            t.method.iteration(1, False)
            times[name].append(time.perf_counter() - t0)
        m = trainers["relgan"].method
        x = m.data.sample(m.batch_size)
        t0 = time.perf_counter()
        loss = -m.G.log_prob(x).mean()
        loss.backward()
        times["mle"].append(time.perf_counter() - t0)
    out = {}
    ref = statistics.median(times["relgan"])
    for name, ts in times.items():
        per_it = statistics.median(ts)
        updates = 1 if name == "mle" else trainers[name].method.updates_per_iteration(
            trainers[name].cfg)
        out[name] = {"sec_per_iteration": per_it, "updates_per_iteration": updates,
                     "sec_per_update": per_it / updates, "vs_relgan": per_it / ref}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{'method':22s} {'s/iter':>8s} {'updates':>8s} {'s/update':>9s} {'x relgan':>9s}")
    for name, r in out.items():
        print(f"{name:22s} {r['sec_per_iteration']:8.3f} {r['updates_per_iteration']:8d} "
              f"{r['sec_per_update']:9.3f} {r['vs_relgan']:9.2f}")


if __name__ == "__main__":
    main()
