"""Speed options: precision, torch.compile, channels-last, lazy regularisation, and stats that
stay tensors until a row is logged (same numbers as converting every step)."""

from __future__ import annotations

import pytest
import torch
from conftest import make_config

from stablegan.errors import ConfigError
from stablegan.training.trainer import Trainer


def _fit(*overrides: str, steps: int = 6) -> Trainer:
    t = Trainer.from_config(make_config(*overrides, steps=steps))
    t.fit()
    return t


def test_log_every_keeps_the_numbers() -> None:
    """Rows of log.every=3 are the rows 3 and 6 of log.every=1, rolling variances included."""
    every1 = {r["step"]: r for r in _fit("method=wgan-gp", "log.every=1").history}
    every3 = _fit("method=wgan-gp", "log.every=3").history
    assert [r["step"] for r in every3] == [3, 6]
    for row in every3:
        ref = every1[row["step"]]
        for k, v in row.items():
            if k != "time/sec" and not k.startswith("overfit/"):
                assert v == pytest.approx(ref[k], rel=1e-6, abs=1e-9), k


def test_bf16_on_cpu_and_fp16_refused() -> None:
    t = _fit("method=wgan-gp", "optim.precision=bf16", steps=2)
    assert all(torch.isfinite(p).all() for p in t.method.D.parameters())
    assert "lipschitz/gp" in t.history[-1]
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        make_config("optim.precision=fp16")


def test_sync_batchnorm_refused_on_cpu() -> None:
    with pytest.raises(ConfigError, match="sync_batchnorm"):
        make_config("dist.sync_batchnorm=true")


def test_lazy_gradient_penalty() -> None:
    """every=k: the penalty on every k-th critic step only."""
    t = Trainer.from_config(make_config("method=wgan-gp", "schedule.n_critic=1",
                                        "lipschitz.gradient_penalty.every=2", steps=1))
    with_gp = ["lipschitz/gp" in t.method.d_step() for _ in range(4)]
    assert with_gp == [True, False, True, False]


def test_channels_last_dcgan(image_overrides: list[str]) -> None:
    t = _fit(*image_overrides, "model.channels_last=true", steps=2)
    conv = next(p for p in t.method.D.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_compile_mlp_on_cpu() -> None:
    try:
        f = torch.compile(torch.nn.Linear(2, 2))
        f(torch.zeros(1, 2)).sum().backward()
    except Exception as err:  # noqa: BLE001 - no compiler toolchain here
        pytest.skip(f"torch.compile does not work on this machine: {err}".splitlines()[0])
    t = _fit("method=wgan-gp", "model.compile=true", steps=2)
    assert "_orig_mod" not in "".join(t.method.G.state_dict())  # checkpoints unchanged
    assert "lipschitz/gp" in t.history[-1]  # the penalty ran on the eager critic


def test_gpu_benchmark_runs_on_cpu() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu.py"), "--device", "cpu",
                           "--iters", "1", "--channels", "4", "--batch", "8", "--no-compile"],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    for model in ("dcgan", "resnet"):
        for variant in ("fp32", "bf16", "channels_last"):
            assert res[f"{model}/{variant}"]["images_per_s"] > 0, res[f"{model}/{variant}"]
