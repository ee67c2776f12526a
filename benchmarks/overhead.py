"""Library overhead: stablegan's training step vs a minimal hand-written PyTorch loop doing the
same maths with the same models, interleaved in one process (ratio = median over rounds of
stablegan time / hand time; target <= 1.05). Also the cost of the method: ppo-gan (5:5 + C) vs
wgan-gp (5:1) per iteration and per minibatch update.

    python benchmarks/overhead.py --json            {"wgan-gp": r, "ppo-gan": r, ...}
    python benchmarks/overhead.py --rounds 2 --iters 2 --setups grid   (quick)

Setups: grid (the grid recipe's MLPs 3x128, batch 256) and dcgan32 (DCGAN on random 3x32x32
data, batch 64, model.channels 32 by default on CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from stablegan.recipes import load_config
from stablegan.training.trainer import Trainer

QUIET = ["log.progress=false", "log.tensorboard=false", "log.every=100", "eval.n_samples=64"]


def build(method: str, setup: str, channels: int) -> Trainer:
    if setup == "grid":
        cfg = load_config("grid", None, QUIET + [f"method={method}"], 100_000, 0)
        return Trainer.from_config(cfg)
    cfg = load_config(None, None, QUIET + [f"method={method}", "model.name=dcgan",
                                           f"model.channels={channels}", "model.latent_dim=64",
                                           "data.batch_size=64", "health.enabled=false"],
                      100_000, 0)
    x = torch.rand(512, 3, 32, 32) * 2 - 1
    from stablegan.data.adapt import as_source
    from stablegan.tasks import task_for

    G, D = task_for(as_source(x, cfg), cfg).build_models(cfg.model)
    return Trainer(G, D, x, cfg)


def gp(D: Any, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    u = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1))
    xh = (u * real + (1 - u) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


class HandLoop:
    """The same maths written directly (copies of the trainer's networks and optimisers)."""

    def __init__(self, t: Trainer, ppo: bool) -> None:
        import copy

        m = t.method
        self.G, self.D = copy.deepcopy(m.G), copy.deepcopy(m.D)
        self.C = copy.deepcopy(m.C) if ppo else None
        betas = tuple(t.cfg.optim.betas)
        self.og = torch.optim.Adam(self.G.parameters(), t.cfg.optim.g_lr, betas=betas)
        self.od = torch.optim.Adam(self.D.parameters(), t.cfg.optim.d_lr, betas=betas)
        if self.C is not None:
            self.oc = torch.optim.Adam(self.C.parameters(), t.cfg.optim.c_lr, betas=betas)
        self.data, self.B, self.zdim = t.data, t.cfg.data.batch_size, m.latent_dim
        self.lam = t.cfg.lipschitz.gradient_penalty.weight
        s = t.cfg.schedule
        self.n_critic, self.n_gen, self.ppo = s.n_critic, s.n_gen, ppo

    def d(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(x).reshape(-1)

    def iteration(self) -> None:
        for _ in range(self.n_critic):
            real = self.data.sample(self.B)
            with torch.no_grad():
                fake = self.G(torch.randn(self.B, self.zdim))
            sr, sf = self.d(real), self.d(fake)
            if self.ppo:
                w = self.B * torch.softmax(sf.detach(), 0)
                loss = -sr.mean() + (w * sf).mean()
            else:
                loss = -sr.mean() + sf.mean()
            loss = loss + self.lam * gp(self.D, real, fake)
            self.od.zero_grad(set_to_none=True)
            loss.backward()
            self.od.step()
        z = torch.randn(self.B, self.zdim)
        if not self.ppo:
            loss = -self.d(self.G(z)).mean()
            self.og.zero_grad(set_to_none=True)
            loss.backward()
            self.og.step()
            return
        C = self.C
        with torch.no_grad():
            C.eval()
            old = C(self.G(z)).reshape(-1)
        for _ in range(self.n_gen):
            real = self.data.sample(self.B)
            with torch.no_grad():
                fake = self.G(torch.randn(self.B, self.zdim))
            C.train()
            lg = C(torch.cat([real, fake])).reshape(-1)
            lc = (F.binary_cross_entropy_with_logits(lg[:self.B], torch.ones(self.B))
                  + F.binary_cross_entropy_with_logits(lg[self.B:], torch.zeros(self.B)))
            self.oc.zero_grad(set_to_none=True)
            lc.backward()
            torch.nn.utils.clip_grad_norm_(list(C.parameters()), 0.5)
            self.oc.step()
            x = self.G(z)
            C.eval()
            r = (old - C(x).reshape(-1)).clamp(max=20).exp()
            a = self.d(x)
            loss = -torch.minimum(r * a, r.clamp(0.6, 1.4) * a).mean()
            self.og.zero_grad(set_to_none=True)
            loss.backward()
            self.og.step()


def library_step(t: Trainer) -> Any:
    phase = t.method.phases(t.cfg.steps)[-1]
    t._phases = [phase]
    t._bars = {}
    return lambda: t._train_step(phase, None)


def measure(setups: list[str], rounds: int, iters: int, channels: int) -> dict[str, Any]:
    torch.manual_seed(0)
    out: dict[str, Any] = {}
    per_iter: dict[str, float] = {}
    for setup in setups:
        for method in ("wgan-gp", "ppo-gan"):
            t = build(method, setup, channels)
            lib, hand = library_step(t), HandLoop(t, method == "ppo-gan")
            lib()
            hand.iteration()  # warm-up
            ratios, lib_times = [], []
            for _ in range(rounds):
                t0 = time.perf_counter()
                for _ in range(iters):
                    lib()
                t1 = time.perf_counter()
                for _ in range(iters):
                    hand.iteration()
                t2 = time.perf_counter()
                ratios.append((t1 - t0) / (t2 - t1))
                lib_times.append((t1 - t0) / iters)
            key = method if setup == setups[0] else f"{method}/{setup}"
            out[key] = round(statistics.median(ratios), 3)
            per_iter[f"{method}/{setup}"] = statistics.median(lib_times)
            upd = t.method.updates_per_iteration(t.cfg)
            out[f"sec_per_iteration/{method}/{setup}"] = round(per_iter[f"{method}/{setup}"], 4)
            out[f"sec_per_update/{method}/{setup}"] = round(per_iter[f"{method}/{setup}"] / upd, 5)
        out[f"ppo_over_wgan_gp/per_iteration/{setup}"] = round(
            per_iter[f"ppo-gan/{setup}"] / per_iter[f"wgan-gp/{setup}"], 3)
        out[f"ppo_over_wgan_gp/per_update/{setup}"] = round(
            out[f"sec_per_update/ppo-gan/{setup}"] / out[f"sec_per_update/wgan-gp/{setup}"], 3)
    out["threads"] = torch.get_num_threads()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setups", default="grid,dcgan32")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = measure(a.setups.split(","), a.rounds, a.iters, a.channels)
    print(json.dumps(res) if a.json else json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
