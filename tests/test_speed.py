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


def test_weight_check_finds_nan_and_inf_in_any_tensor_without_overflow() -> None:
    """The one-sync weight check (the infinity norm of every parameter and buffer) sees a NaN
    or inf in any tensor of any float dtype, names it, and takes huge finite weights (whose
    2-norm would overflow) for finite."""
    from stablegan.training.state import all_finite, first_nonfinite, first_nonfinite_of

    def net() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                   torch.nn.Linear(4, 1).to(torch.float64))

    a, b = net(), net()
    assert first_nonfinite_of({"G": a, "D": b}) is None
    with torch.no_grad():
        a[0].weight.fill_(3e38)  # finite; its squares are not
    assert all_finite(list(a.parameters())) and first_nonfinite(a) is None
    with torch.no_grad():
        b[1].running_var[2] = float("inf")
    assert first_nonfinite_of({"G": a, "D": b}) == ("D", "weight 1.running_var")
    with torch.no_grad():
        b[1].running_var[2] = 1.0
        b[2].bias[0] = float("nan")  # float64
    assert first_nonfinite_of({"G": a, "D": b}) == ("D", "weight 2.bias")
    assert not all_finite([torch.ones(2, dtype=torch.bfloat16), torch.tensor([float("-inf")])])


def test_gradient_norm_without_clipping_leaves_gradients_untouched() -> None:
    """``optim.grad_clip=0``: the norm clip_grad_norm_ reports, and the gradients bit for bit
    as they were (no multiplication by 1); with a bound, clip_grad_norm_ itself."""
    from stablegan.methods.gan import grad_norm

    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    for p in params:
        p.grad = torch.randn_like(p) * 10
    before = [p.grad.clone() for p in params]
    copies = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for c, g in zip(copies, before):
        c.grad = g.clone()
    assert torch.equal(grad_norm(params, 0.0),
                       torch.nn.utils.clip_grad_norm_(copies, float("inf")))
    assert all(torch.equal(p.grad, g) for p, g in zip(params, before))
    norm = grad_norm(params, 1.0)
    assert float(norm) == pytest.approx(
        float(torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in before]))), rel=1e-6)
    assert float(torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in params]))) \
        == pytest.approx(1.0, rel=1e-5)


def test_step_average_of_tensors_is_the_average_of_their_floats_bit_for_bit() -> None:
    """``phases.average`` of 0-d float32 tensor statistics (the fast stacked path) gives the
    float64 number that adding the same values as Python floats in order gives."""
    from stablegan.training.phases import average

    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 5, 6, 11):
        for _ in range(200):
            scales = 10.0 ** (torch.rand(n, generator=gen) * 40 - 20)
            values = (torch.randn(n, generator=gen) * scales).float()
            tensors = [{"x": v, "y": v * 3} for v in values.unbind()]
            floats = [{"x": float(v), "y": float(v * 3)} for v in values.unbind()]
            fast, ref = average(tensors), average(floats)
            assert fast["x"].dtype == torch.float64
            assert float(fast["x"]) == ref["x"] and float(fast["y"]) == ref["y"]


def test_step_statistics_are_averaged_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """``phases.average`` computes a key's mean when it is read (the trainer reads the losses
    every step, the rest only on logged rows), and otherwise behaves like the dict of means."""
    from stablegan.core import phases

    calls: list[int] = []
    mean = phases._mean
    monkeypatch.setattr(phases, "_mean", lambda v: calls.append(1) or mean(v))
    steps = [{"loss/d": torch.tensor(1.0), "x": torch.tensor(2.0)},
             {"loss/d": torch.tensor(3.0), "x": torch.tensor(4.0), "y": 5.0}]
    avg = phases.average(steps)
    assert list(avg) == ["loss/d", "x", "y"] and "x" in avg and "z" not in avg and not calls
    assert float(avg["loss/d"]) == 2.0 and len(calls) == 1
    assert float(avg["loss/d"]) == 2.0 and len(calls) == 1  # computed once
    avg["style/tau"] = 0.5
    del avg["y"]
    assert {k: float(v) for k, v in avg.items()} == {"loss/d": 2.0, "x": 3.0, "style/tau": 0.5}


def test_critic_step_without_its_norm_still_refuses_a_non_finite_gradient() -> None:
    """The critic step does not compute its gradient norm (nothing logs it), so its gradients
    are checked on their sums: a NaN gradient behind a finite loss still stops the step before
    any weight changes; huge but finite gradients (whose sums overflow) pass."""
    from stablegan.methods import NonFiniteError

    t = Trainer.from_config(make_config("method=wgan-gp", steps=1))
    m = t.method
    weight = next(m.D.parameters())
    hook = weight.register_hook(lambda g: g * float("nan"))
    before = {k: v.clone() for k, v in m.D.state_dict().items()}
    with pytest.raises(NonFiniteError) as info:
        m.d_step()
    assert (info.value.network, info.value.term) == ("D", "gradient")
    assert all(torch.equal(v, m.D.state_dict()[k]) for k, v in before.items())
    hook.remove()
    assert m.counts["D"] == 0
    hook = weight.register_hook(lambda g: torch.full_like(g, 3e38))
    m.d_step()  # finite: the step is taken
    hook.remove()
    assert m.counts["D"] == 1
    assert any(not torch.equal(v, m.D.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("method", ["wgan-gp", "ppo-gan"])
def test_overhead_benchmark_hand_loop_is_the_same_maths(method: str) -> None:
    """benchmarks/overhead.py's hand-written loop ends two iterations on the library's weights
    bit for bit (same draws, same data), so its timing ratio compares like with like."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import overhead
    finally:
        sys.path.pop(0)
    t = overhead.build(method, "grid", 8)
    assert overhead.weight_gap(t, overhead.HandLoop(t, method == "ppo-gan")) == 0.0
