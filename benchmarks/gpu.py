"""The GPU set: training images/s of DCGAN and ResNet 32x32 (wgan-gp, 5:1) at batch 64 with
fp32, bf16, torch.compile and channels-last, and peak memory; prints one JSON object.

    python benchmarks/gpu.py                    (CUDA when present; about 5 min on one GPU)
    python benchmarks/gpu.py --device cpu --iters 1 --channels 4 --batch 8 --no-compile

It also runs (slower, smaller) on the CPU, which is how tests/test_speed.py checks it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from stablegan.data.adapt import as_source
from stablegan.recipes import load_config
from stablegan.tasks import task_for
from stablegan.training.trainer import Trainer

VARIANTS = {"fp32": [], "bf16": ["optim.precision=bf16"],
            "compile": ["model.compile=true"], "channels_last": ["model.channels_last=true"],
            "bf16+channels_last": ["optim.precision=bf16", "model.channels_last=true"]}


def run(model: str, variant: str, device: str, batch: int, channels: int, iters: int
        ) -> dict[str, Any]:
    extra = ["log.progress=false", "log.tensorboard=false", "log.every=100",
             "health.enabled=false", "method=wgan-gp", f"model.name={model}",
             f"model.channels={channels}", "model.latent_dim=128", f"data.batch_size={batch}",
             f"device={device}"] + VARIANTS[variant]
    cfg = load_config(None, None, extra, 100_000, 0)
    x = torch.rand(max(4 * batch, 256), 3, 32, 32) * 2 - 1
    G, D = task_for(as_source(x, cfg), cfg).build_models(cfg.model)
    t = Trainer(G, D, x, cfg)
    phase = t.method.phases(cfg.steps)[-1]
    t.plan = [phase]
    cuda = device.startswith("cuda")
    for _ in range(2):  # warm-up (compilation)
        t._train_step(phase)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(iters):
        t._train_step(phase)
    if cuda:
        torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / iters
    upd = t.method.updates_per_iteration(cfg)
    out = {"sec_per_iteration": round(sec, 5),
           "images_per_s": round(upd * batch / sec, 1)}  # real+fake batches D and G see
    if cuda:
        out["peak_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--models", default="dcgan,resnet")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    a = p.parse_args()
    res: dict[str, Any] = {"device": a.device, "batch": a.batch, "channels": a.channels,
                           "torch": torch.__version__}
    if a.device.startswith("cuda"):
        res["gpu"] = torch.cuda.get_device_name()
    for model in a.models.split(","):
        for variant in VARIANTS:
            if variant == "compile" and a.no_compile:
                continue
            try:
                res[f"{model}/{variant}"] = run(model, variant, a.device, a.batch, a.channels,
                                                a.iters)
            except Exception as err:  # noqa: BLE001 - report the variant, go on
                res[f"{model}/{variant}"] = {"error": str(err).splitlines()[0][:200]}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
