"""Seconds per iteration of the image recipes on this machine, on random data of the real shape.

MNIST and CIFAR-10 need their files, which an offline machine lacks; the cost of one iteration
does not depend on the pixel values, so random tensors of the same shape (N, C, H, W) in [-1, 1]
measure it. Prints one line per (recipe, method): s/it over ``--iters`` iterations after one
warm-up iteration, and the wall time of the recipe's default budget.

    OMP_NUM_THREADS=2 python benchmarks/image_cpu_cost.py --iters 5 \\
        mnist cifar10-dcgan mnist-cpu cifar10-cpu --methods nsgan,wgan-gp
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from stablegan import Trainer, load_config
from stablegan.methods.presets import preset_fragment
from stablegan.recipes import recipe_dict

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def cost(recipe: str, method: str | None, iters: int, tmp: Path) -> tuple[float, int]:
    data = recipe_dict(recipe)["data"]["name"]
    conditional = bool(method) and "conditional" in preset_fragment(str(method).split("+")[0])
    path = tmp / f"{data}{'-labelled' if conditional else ''}.pt"
    if not path.is_file():  # class-conditional methods: random labels 0..9 as well
        x = torch.rand(2000, *SHAPES[data]) * 2 - 1
        torch.save({"x": x, "y": torch.arange(2000) % 10} if conditional else x, path)
    sets = [f"data.path={path}", "data.name=tensor", "log.progress=false",
            "log.tensorboard=false", "health.enabled=false", "eval.every=0"]
    if method:
        sets.append(f"method={method}")
    cfg = load_config(recipe, None, sets)
    budget = cfg.steps
    cfg.steps = iters + 1
    trainer = Trainer.from_config(cfg)
    trainer.fit(steps=1)  # warm-up (allocations, first evaluation excluded below)
    t0 = time.perf_counter()
    for i in range(iters):  # the adversarial iteration itself (logging and EMA excluded)
        trainer.method.iteration(i)
    return (time.perf_counter() - t0) / iters, budget


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("recipes", nargs="+")
    p.add_argument("--methods", default="", help="comma list (default: the recipe's own)")
    p.add_argument("--iters", type=int, default=5)
    args = p.parse_args()
    methods = [m for m in args.methods.split(",") if m] or [None]
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in args.recipes:
            for method in methods:
                sec, budget = cost(recipe, method, args.iters, Path(tmp))
                name = method or load_config(recipe).method
                print(f"{recipe:16s} {name:10s} {sec:7.3f} s/it  default budget {budget:6d} it "
                      f"= {sec * budget / 60:7.1f} min  (threads {torch.get_num_threads()})",
                      flush=True)


if __name__ == "__main__":
    main()
