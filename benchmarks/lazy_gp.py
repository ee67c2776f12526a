"""Lazy regularisation: the gradient penalty every k critic steps (weighted k x lambda,
``lipschitz.gradient_penalty.every=k``) against every step, on the 25-Gaussian grid with WGAN-GP.

Quality: ``stablegan compare`` (3 seeds, final evaluation: modes, HQ fraction, reverse KL, SWD).
Time: seconds per iteration of the trainer's step for each k, interleaved in one process (median
over rounds of ``iters`` iterations each; the machine may be shared), and the ratio to k = 1.

    python benchmarks/lazy_gp.py --out /work/bench-speed/lazy-gp          (quality + time)
    python benchmarks/lazy_gp.py --out DIR --timing-only --rounds 2 --iters 2   (quick)

Settings: the grid recipe with a 3x128 MLP and batch 128 (the toy benchmarks' size), lr 1e-3 for
G and D and penalty weight 1 (the grid pilot's best WGAN-GP setting in docs/benchmarks.md, which
used 3x256 MLPs and batch 256), 5 critic steps per iteration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from stablegan.recipes import load_config
from stablegan.training.trainer import Trainer

SETTINGS = ["model.hidden=128", "data.batch_size=128", "optim.g_lr=1e-3", "optim.d_lr=1e-3",
            "lipschitz.gradient_penalty.weight=1"]
QUIET = ["log.progress=false", "log.tensorboard=false"]


def method(k: int) -> str:
    return f"wgan-gp+lipschitz.gradient_penalty.every={k}"


def timing(ks: list[int], rounds: int, iters: int) -> dict[str, Any]:
    """Median seconds per iteration of each k, the k's taking turns in every round."""
    from overhead import library_step  # benchmarks/overhead.py

    steps = {}
    for k in ks:
        cfg = load_config("grid", None, QUIET + SETTINGS + [
            "method=wgan-gp", f"lipschitz.gradient_penalty.every={k}", "log.every=100"],
            100_000, 0)
        steps[k] = library_step(Trainer.from_config(cfg))
        steps[k]()  # warm-up
    per: dict[int, list[float]] = {k: [] for k in ks}
    for _ in range(rounds):
        for k in ks:
            t0 = time.perf_counter()
            for _ in range(iters):
                steps[k]()
            per[k].append((time.perf_counter() - t0) / iters)
    med = {k: statistics.median(v) for k, v in per.items()}
    return {"sec_per_iteration": {str(k): round(med[k], 5) for k in ks},
            "relative_to_every_1": {str(k): round(med[k] / med[ks[0]], 3) for k in ks}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="compare's output directory (outside the repo)")
    p.add_argument("--every", default="1,4,16", help="comma list of k (the first is the base)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=2000, help="iterations per run")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--timing-only", action="store_true")
    a = p.parse_args()
    ks = [int(k) for k in a.every.split(",")]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    res: dict[str, Any] = {"timing": timing(ks, a.rounds, a.iters)}
    if not a.timing_only:
        from stablegan.compare import run_compare

        summary = run_compare("grid", [method(k) for k in ks],
                              [int(s) for s in a.seeds.split(",")], a.out, steps=a.steps,
                              overrides=SETTINGS, jobs=a.jobs)
        print((Path(a.out) / "summary.md").read_text(), file=sys.stderr)
        res["quality"] = summary
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "lazy_gp.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res["timing"]))


if __name__ == "__main__":
    main()
