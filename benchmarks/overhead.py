"""Library overhead: stablegan's training step vs a minimal hand-written PyTorch loop doing the
same maths with the same models, interleaved in one process (ratio = median over rounds of
stablegan time / hand time; target <= 1.05). Also the cost of the method: ppo-gan (5:5 + C) vs
wgan-gp (5:1) per iteration and per minibatch update.

    python benchmarks/overhead.py --json            {"wgan-gp": r, "ppo-gan": r, ...}
    python benchmarks/overhead.py --rounds 2 --iters 2 --setups grid   (quick)
    python benchmarks/overhead.py --json --rounds 21 --iters 3 --dcgan-rounds 5 --dcgan-iters 1
    python benchmarks/overhead.py --attribute grid/wgan-gp --rounds 80 --iters 3   (where it goes)

Before timing, each hand loop is checked to be the same maths: from the library's weights, the
same global RNG state and data stream, two iterations of each side must end with the same
weights (``max_weight_gap/...``; 0.0 is bit for bit). Neither side uses EMA (the recipes'
default ``ema.decay=0``); both use Adam with the method's betas, n_critic, the gradient penalty
and, for ppo-gan, importance weights, the ratio classifier (clip 0.5) and the clipped surrogate.

Setups: grid (the grid recipe's MLPs, 3x256 since issue 13's tuning, batch 256), grid-small
(the earlier grid recipe, MLPs 3x128, batch 256) and dcgan32 (DCGAN on random 3x32x32
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
    if setup in ("grid", "grid-small"):  # the recipe's MLPs (grid: 3x256; grid-small: 3x128)
        cfg = load_config(setup, None, QUIET + [f"method={method}"], 100_000, 0)
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

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.og, self.od] + ([self.oc] if self.C is not None else [])

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
    t.plan = [phase]
    return lambda: t._train_step(phase)


def weight_gap(t: Trainer, hand: HandLoop, iterations: int = 2) -> float:
    """Largest |weight difference| between the library and the hand loop after ``iterations``
    from the same weights, the same global RNG state and the same data stream (0.0: the same
    maths, draw for draw). Leaves both sides as they were before."""
    import copy

    nets = {"G": hand.G, "D": hand.D, **({"C": hand.C} if hand.C is not None else {})}
    saved = (copy.deepcopy(t.state_dict(gather=False)), torch.get_rng_state(),
             t.data.state_dict(), {k: copy.deepcopy(n.state_dict()) for k, n in nets.items()},
             [copy.deepcopy(o.state_dict()) for o in hand.optimizers()])
    for k, n in nets.items():  # the hand loop starts from the library's weights
        n.load_state_dict(t.method.networks[k].state_dict())
    for o in hand.optimizers():
        o.state.clear()
    lib = library_step(t)
    for _ in range(iterations):
        lib()
    torch.set_rng_state(saved[1])
    t.data.load_state_dict(saved[2])
    t.method.counts = {k: 0 for k in t.method.counts}
    for _ in range(iterations):
        hand.iteration()
    gap = max(float((a - b).abs().max()) for k, n in nets.items()
              for a, b in zip(t.method.networks[k].state_dict().values(),
                              n.state_dict().values()) if a.is_floating_point())
    t.load_state_dict(saved[0])
    torch.set_rng_state(saved[1])
    for k, n in nets.items():
        n.load_state_dict(saved[3][k])
    for o, st in zip(hand.optimizers(), saved[4]):
        o.load_state_dict(st)
    return gap


def measure(setups: list[str], rounds: int, iters: int, channels: int,
            per_setup: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    """Per round, ``iters`` library iterations and ``iters`` hand-loop iterations, the order
    alternating from round to round (drift of the machine's load cancels); the ratio of each
    round's two times, median (and range) over rounds. ``per_setup`` overrides (rounds, iters)
    for some setups."""
    torch.manual_seed(0)
    out: dict[str, Any] = {}
    per_iter: dict[str, float] = {}
    for setup in setups:
        n_rounds, n_iters = (per_setup or {}).get(setup, (rounds, iters))
        for method in ("wgan-gp", "ppo-gan"):
            t = build(method, setup, channels)
            hand = HandLoop(t, method == "ppo-gan")
            out[f"max_weight_gap/{method}/{setup}"] = weight_gap(t, hand)
            lib = library_step(t)
            lib()
            hand.iteration()  # warm-up
            ratios, lib_times, hand_times = [], [], []
            for r in range(n_rounds):
                times = {}
                for name in (("lib", "hand") if r % 2 == 0 else ("hand", "lib")):
                    fn = lib if name == "lib" else hand.iteration
                    t0 = time.perf_counter()
                    for _ in range(n_iters):
                        fn()
                    times[name] = (time.perf_counter() - t0) / n_iters
                ratios.append(times["lib"] / times["hand"])
                lib_times.append(times["lib"])
                hand_times.append(times["hand"])
            key = method if setup == setups[0] else f"{method}/{setup}"
            out[key] = round(statistics.median(ratios), 3)
            out[f"ratio_range/{method}/{setup}"] = [round(min(ratios), 3), round(max(ratios), 3)]
            per_iter[f"{method}/{setup}"] = statistics.median(lib_times)
            upd = t.method.updates_per_iteration(t.cfg)
            out[f"sec_per_iteration/{method}/{setup}"] = round(per_iter[f"{method}/{setup}"], 4)
            out[f"hand_sec_per_iteration/{method}/{setup}"] = round(
                statistics.median(hand_times), 4)
            out[f"sec_per_update/{method}/{setup}"] = round(per_iter[f"{method}/{setup}"] / upd, 5)
        out[f"ppo_over_wgan_gp/per_iteration/{setup}"] = round(
            per_iter[f"ppo-gan/{setup}"] / per_iter[f"wgan-gp/{setup}"], 3)
        out[f"ppo_over_wgan_gp/per_update/{setup}"] = round(
            out[f"sec_per_update/ppo-gan/{setup}"] / out[f"sec_per_update/wgan-gp/{setup}"], 3)
    out["threads"] = torch.get_num_threads()
    out["rounds_iters"] = {s: list((per_setup or {}).get(s, (rounds, iters))) for s in setups}
    return out


def attribute(setup: str, method: str, rounds: int, iters: int, channels: int
              ) -> dict[str, float]:
    """Where the library's extra time goes: ms per iteration of the hand loop, the library step,
    and the library step without the weight check after the iteration and/or with the optimiser
    step reduced to the hand loop's (no finiteness checks, no gradient norm; C still clipped),
    all interleaved (the order reversed every other round), medians over rounds."""
    from stablegan.training import faults as trainer_mod  # where the step check lives

    t = build(method, setup, channels)
    hand, m = HandLoop(t, method == "ppo-gan"), t.method
    lib = library_step(t)
    step, check = type(m).step, trainer_mod.first_nonfinite_of

    def bare_step(self: Any, name: str, loss: torch.Tensor, terms: Any,
                  max_norm: float | None = None, optimizer: str | None = None,
                  **_: Any) -> torch.Tensor:
        opt = self.optimizers[optimizer or name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if max_norm:
            torch.nn.utils.clip_grad_norm_(list(self.networks[name].parameters()), max_norm)
        opt.step()
        self.counts[name] += 1
        return loss.detach()

    def variant(bare: bool, unchecked: bool) -> Any:
        def run() -> None:
            if bare:
                type(m).step = bare_step
            if unchecked:
                trainer_mod.first_nonfinite_of = lambda nets: None
            try:
                lib()
            finally:
                type(m).step, trainer_mod.first_nonfinite_of = step, check
        return run

    fns = {"hand loop": hand.iteration, "library": variant(False, False),
           "without the weight check": variant(False, True),
           "without the step's checks and norms": variant(True, False),
           "without both": variant(True, True)}
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for k in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
            t0 = time.perf_counter()
            for _ in range(iters):
                fns[k]()
            times[k].append((time.perf_counter() - t0) / iters)
    return {k: round(statistics.median(v) * 1e3, 2) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setups", default="grid,dcgan32")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--dcgan-rounds", type=int, default=None, help="rounds for dcgan32")
    p.add_argument("--dcgan-iters", type=int, default=None, help="iterations per round, dcgan32")
    p.add_argument("--attribute", metavar="SETUP/METHOD", default=None,
                   help="instead: ms/iteration with parts of the library step removed")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.attribute:
        setup, method = a.attribute.split("/")
        print(json.dumps(attribute(setup, method, a.rounds, a.iters, a.channels)))
        return
    per = {"dcgan32": (a.dcgan_rounds or a.rounds, a.dcgan_iters or a.iters)}
    res = measure(a.setups.split(","), a.rounds, a.iters, a.channels, per)
    print(json.dumps(res) if a.json else json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
