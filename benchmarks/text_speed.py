"""Seconds per text iteration: the project, a hand-written loop of the same modules, and the
previous code (``benchmarks/text_reference.py``), interleaved in one process.

    python benchmarks/text_speed.py [--recipe oracle] [--reps 5] [--json] [--methods ...]
                                    [--set key=value ...]

For each method (default: the recipe's own, relgan = RSGAN 5:1 on the oracle) one trainer runs
the current code and one the previous computations (real one-hots, ``Conv2d``, D trainable in the
generator step, one Gumbel ``rand`` per token, per-step ``log_prob`` projection). For relgan a
hand-written loop of the same modules (the same maths, the same tricks, no framework: five RSGAN
critic steps, one generator step, Adam, gradient clipping) runs beside them. Each round reseeds
torch's RNG before each candidate, so all of them draw the same noise and data: the printed
``max_param_diff`` (G's parameters after all rounds against the project's) is 0 for the
hand-written loop (the same numbers bit for bit) and, for the previous code, float rounding (the
reordered sums of unfold + addmm and of the embedding gradient) as a GAN's Adam steps amplify it
(bounded by lr x steps; ``tests/test_speed.py`` checks 3 iterations to 1e-6).

Prints, per method, the median CPU seconds per iteration (this thread's ``time.thread_time``: on
a shared machine wall time mostly measures the other processes; the wall times' minimum and
median are in the JSON) of ``reps`` rounds, ``project/hand`` (the framework's overhead) and
``speedup_vs_previous`` (previous / project); once, the FLOPs of one project iteration
(``torch.utils.flop_counter``), this CPU's one-thread fp32 matmul throughput (best CPU time of a
1024^3 product) and the ratio of the measured time to the time that throughput implies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import text_reference  # noqa: E402
from machine import cpu_name  # noqa: E402

from stablegan import Trainer  # noqa: E402
from stablegan.recipes import load_config  # noqa: E402

METHODS: dict[str, list[str]] = {
    "relgan": ["method=relgan"],
    "wgan-gp": ["method=wgan-gp"],
    "ppo-gan (classifier)": ["method=ppo-gan", "schedule.n_gen=1"],
    "ppo-gan (exact)": ["method=ppo-gan", "variational.ratio=exact",
                        "variational.advantage=centered"],
    "mle": ["method=relgan"],  # one teacher-forced step: -mean log p(x), backward
}


def mle_step(method: Any) -> None:
    """One maximum-likelihood gradient of G on a data batch (no optimiser step)."""
    x = method.data.sample(method.batch_size)
    (-method.G.log_prob(x).mean()).backward()
    method.G.zero_grad(set_to_none=True)


class HandWritten:
    """RelGAN's iteration written out on the modules of ``trainer`` (its G, D and data): five
    RSGAN critic steps, then one generator step against a fresh real batch, Adam with the
    config's learning rates and betas, gradient norms clipped at ``optim.grad_clip``; real
    sentences as token ids, D frozen during the generator step."""

    def __init__(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        m = trainer.method
        self.G, self.D, self.data, self.task = m.G, m.D, m.data, m.task
        self.batch, self.n_critic, self.clip = cfg.data.batch_size, cfg.schedule.n_critic, \
            cfg.optim.grad_clip
        betas = tuple(cfg.optim.betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.optim.g_lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.optim.d_lr, betas=betas)
        self.z = torch.empty(self.batch, 0)

    def _update(self, opt: torch.optim.Optimizer, net: torch.nn.Module, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.clip)
        opt.step()

    def iteration(self) -> None:
        for _ in range(self.n_critic):
            real = self.data.sample(self.batch)
            with torch.no_grad():
                fake = self.G(self.z)
            loss = F.softplus(-(self.D(real) - self.D(fake))).mean()
            self._update(self.opt_d, self.D, loss)
        self.D.requires_grad_(False)
        fake = self.G(self.z)
        s_fake = self.D(fake)
        s_real = self.D(self.data.sample(self.batch))
        loss = F.softplus(-(s_fake - s_real)).mean()
        self.D.requires_grad_(True)
        self._update(self.opt_g, self.G, loss)


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    """This process's fp32 ``mm`` throughput (GFLOP/s), best of ``reps`` n x n x n products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time()
        torch.mm(a, b)
        best = min(best, time.thread_time() - t0)
    return 2 * n**3 / best / 1e9


def iteration_flops(trainer: Trainer) -> float | str:
    """GFLOPs of one iteration by ``FlopCounterMode``, or why the counter failed (the previous
    code's ``expand``-ed start embedding breaks its module hooks under ``no_grad``)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            trainer.method.iteration(1, False)
    except Exception as err:  # noqa: BLE001 - reported, not hidden
        return f"FlopCounterMode fails: {type(err).__name__}: {err}"
    return counter.get_total_flops() / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="oracle")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--methods", nargs="*", default=["relgan"],
                    help=f"any of: {', '.join(repr(k) for k in METHODS)}")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = ["log.progress=false", "log.tensorboard=false", "pretrain.steps=0", *args.overrides]
    candidates: dict[str, dict[str, Any]] = {}
    for name in args.methods:
        if name not in METHODS:
            ap.error(f"unknown method {name!r}; use {', '.join(METHODS)}")
        cfg = load_config(args.recipe, overrides=[*base, *METHODS[name]], steps=10)
        runs: dict[str, Any] = {}
        for kind in ("project", "previous") + (("hand",) if name == "relgan" else ()):
            trainer = Trainer.from_config(cfg)
            if kind == "previous":
                text_reference.install(trainer.method)
            step = (HandWritten(trainer).iteration if kind == "hand"
                    else (lambda m=trainer.method: mle_step(m)) if name == "mle"
                    else (lambda m=trainer.method: m.iteration(1, False)))
            runs[kind] = {"trainer": trainer, "step": step, "times": [], "cpu": []}
        candidates[name] = runs
    for runs in candidates.values():  # warm-up (allocations), the same noise for all
        for run in runs.values():
            torch.manual_seed(12345)
            run["step"]()
    for r in range(args.reps):
        for runs in candidates.values():
            for run in runs.values():
                torch.manual_seed(1000 + r)
                c0, t0 = time.thread_time(), time.perf_counter()
                run["step"]()
                run["times"].append(time.perf_counter() - t0)
                run["cpu"].append(time.thread_time() - c0)
    out: dict[str, Any] = {"machine": f"{cpu_name()}, {os.cpu_count()} cores",
                           "torch": torch.__version__, "threads": torch.get_num_threads(),
                           "recipe": args.recipe, "reps": args.reps, "methods": {}}
    for name, runs in candidates.items():
        sec = {k: statistics.median(run["cpu"]) for k, run in runs.items()}
        ref_params = [p.detach() for p in runs["project"]["trainer"].method.G.parameters()]
        row: dict[str, Any] = {f"sec_per_iteration_{k}": v for k, v in sec.items()}
        row.update({f"wall_min_{k}": min(run["times"]) for k, run in runs.items()})
        row.update({f"wall_median_{k}": statistics.median(run["times"]) for k, run in runs.items()})
        row["wall"] = {k: run["times"] for k, run in runs.items()}
        row["cpu"] = {k: run["cpu"] for k, run in runs.items()}
        trainer = runs["project"]["trainer"]
        row["updates_per_iteration"] = (1 if name == "mle" else
                                        trainer.method.updates_per_iteration(trainer.cfg))
        row["sec_per_update_project"] = sec["project"] / row["updates_per_iteration"]
        row["speedup_vs_previous"] = sec["previous"] / sec["project"]
        row["project_vs_previous"] = sec["project"] / sec["previous"]
        if "hand" in sec:
            row["project_vs_hand"] = sec["project"] / sec["hand"]
        row["max_param_diff"] = {
            k: max(float((a.detach() - b).abs().max()) for a, b in
                   zip(run["trainer"].method.G.parameters(), ref_params))
            for k, run in runs.items() if k != "project"}
        out["methods"][name] = row
    main_name = next((n for n in candidates if n != "mle"), None)
    if main_name is not None:
        first = candidates[main_name]
        flops = iteration_flops(first["project"]["trainer"])
        assert isinstance(flops, float), flops
        gflops = matmul_gflops()
        sec_project = out["methods"][main_name]["sec_per_iteration_project"]
        out["flops"] = {"method": main_name, "gflop_per_iteration": flops,
                        "gflop_per_iteration_previous":
                            iteration_flops(first["previous"]["trainer"]),
                        "matmul_gflop_per_s": gflops,
                        "x_matmul_bound": sec_project / (flops / gflops)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['machine']}, torch {out['torch']}, {out['threads']} thread(s), "
          f"{args.reps} rounds, median CPU s/iteration")
    print(f"{'method':22s} {'project':>8s} {'previous':>9s} {'hand':>8s} {'speed-up':>9s} "
          f"{'proj/hand':>9s}")
    for name, row in out["methods"].items():
        hand = row.get("sec_per_iteration_hand")
        print(f"{name:22s} {row['sec_per_iteration_project']:8.3f} "
              f"{row['sec_per_iteration_previous']:9.3f} "
              f"{'' if hand is None else f'{hand:8.3f}':>8s} {row['speedup_vs_previous']:9.2f} "
              f"{row.get('project_vs_hand', float('nan')):9.2f}")
        print(f"{'':22s} max |G param - project's| after all rounds: {row['max_param_diff']}")
    if "flops" not in out:
        return
    f = out["flops"]
    prev = f["gflop_per_iteration_previous"]
    print(f"{f['gflop_per_iteration']:.1f} GFLOP per {f['method']} iteration (previous: "
          f"{prev if isinstance(prev, str) else f'{prev:.1f}'}); mm "
          f"{f['matmul_gflop_per_s']:.0f} GFLOP/s; {f['x_matmul_bound']:.2f}x the matmul-implied "
          "time")


if __name__ == "__main__":
    main()
