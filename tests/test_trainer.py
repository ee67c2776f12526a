"""Trainer: bitwise-exact resume, resume safety, checkpoints, the Python API and shape checks."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from stablegan import Trainer, load_run
from stablegan.errors import CheckpointError, DivergenceError, ShapeError
from stablegan.methods import NonFiniteError
from stablegan.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- resume


@pytest.mark.parametrize(
    ("method", "extra", "images"),
    [
        ("nsgan", [], False),
        ("ppo-gan", [], False),
        ("nsgan", ["replay.size=40", "replay.fraction=0.25", "ema.decay=0.9"], False),
        ("wgan-gp", ["augment.policy=translation,cutout,color", "ema.decay=0.5"], True),
        # dropout critic + sparse logging: the stop (step 3) is not a logging step
        ("ct-gan", ["log.every=4"], False),
    ],
    ids=["nsgan", "ppo-gan", "replay+ema", "images+augment", "ct-gan-log-every-4"],
)
@pytest.mark.slow
def test_interrupted_and_resumed_run_is_bitwise_identical(request, make_cfg, tmp_path,
                                                          states_identical, method, extra,
                                                          images):
    n_steps, stop_at = 6, 3
    image_sets = request.getfixturevalue("image_overrides") if images else []
    cfg = make_cfg(*image_sets, *extra, "log.checkpoint_every=2", method=method, steps=n_steps)

    whole = Trainer.from_config(cfg, out_dir=tmp_path / "A")
    whole.fit()

    first = Trainer.from_config(cfg, out_dir=tmp_path / "B")
    first.fit(steps=stop_at)
    assert first.step == stop_at
    second = Trainer.from_config(cfg, out_dir=tmp_path / "B")  # a new process, in effect
    assert second.resume() == []
    assert second.step == stop_at
    second.fit()
    assert second.step == n_steps

    a, b = whole.state_dict(), second.state_dict()
    assert set(a["networks"]) == ({"G", "D", "C"} if method == "ppo-gan" else {"G", "D"})
    states_identical(a["networks"], b["networks"])
    states_identical(a["optimizers"], b["optimizers"])
    states_identical(a["ema"], b["ema"])
    states_identical(a["method"], b["method"])  # counts, replay buffer
    states_identical(a, b)  # and everything else (data sampler, RNG, loss variance, ...)
    # what is on disk agrees too
    on_disk_a = load_checkpoint(tmp_path / "A" / "checkpoints" / "last.pt")
    on_disk_b = load_checkpoint(tmp_path / "B" / "checkpoints" / "last.pt")
    assert on_disk_a["step"] == on_disk_b["step"] == n_steps
    states_identical(on_disk_a["networks"], on_disk_b["networks"])
    # the log has each step once, with the same losses
    rows_a = _rows(tmp_path / "A" / "metrics.jsonl")
    rows_b = {r["step"]: r for r in _rows(tmp_path / "B" / "metrics.jsonl")}
    if cfg.log.every == 1:
        assert [r["step"] for r in rows_a] == sorted(rows_b) == list(range(1, n_steps + 1))
    assert rows_a
    for ra in rows_a:
        rb = rows_b[ra["step"]]
        assert (ra["loss/d"], ra["loss/g"]) == (rb["loss/d"], rb["loss/g"])


def test_same_seed_same_weights_other_seed_other_weights(make_cfg, states_identical):
    def weights(seed: int) -> dict:
        t = Trainer.from_config(make_cfg(f"seed={seed}", steps=2))
        for _ in range(2):
            t.method.iteration(diagnostics=False)
        return t.state_dict()["networks"]

    states_identical(weights(3), weights(3))
    assert not torch.equal(weights(3)["G"]["net.0.weight"], weights(4)["G"]["net.0.weight"])


@pytest.mark.slow
def test_resume_with_changed_config_is_refused_with_a_readable_diff(make_cfg, tmp_path):
    Trainer.from_config(make_cfg(steps=2), out_dir=tmp_path).fit()
    changed = make_cfg("optim.g_lr=5e-4", "schedule.n_critic=2", steps=2)
    trainer = Trainer.from_config(changed, out_dir=tmp_path)
    with pytest.raises(CheckpointError) as info:
        trainer.resume()
    message = info.value.message
    assert "optim.g_lr: 0.0001 -> 0.0005" in message
    assert "schedule.n_critic: 1 -> 2" in message
    assert "--force" in info.value.hint
    assert trainer.step == 0  # nothing was loaded
    # force=True resumes and trains on with the new config
    trainer.resume(force=True)
    assert trainer.step == 2
    assert trainer.method.optimizers["G"].param_groups[0]["lr"] == pytest.approx(1e-4)
    trainer.fit(steps=3)
    assert trainer.step == 3
    assert trainer.method.optimizers["G"].param_groups[0]["lr"] == pytest.approx(5e-4)
    assert trainer.method.counts["D"] == 2 + 2  # two old 1-critic steps, then one of 2


@pytest.mark.slow
def test_resume_allows_more_steps_and_cosmetic_changes(make_cfg, tmp_path):
    Trainer.from_config(make_cfg(steps=2), out_dir=tmp_path).fit()
    longer = make_cfg("log.progress=true", steps=4)
    trainer = Trainer.from_config(longer, out_dir=tmp_path)
    trainer.resume()
    assert trainer.step == 2
    trainer.fit()
    assert trainer.step == 4
    assert [r["step"] for r in _rows(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]


@pytest.mark.slow
def test_checkpoint_of_another_architecture_names_the_mismatched_tensors(make_cfg, tmp_path):
    Trainer.from_config(make_cfg(steps=1), out_dir=tmp_path).fit()
    wider = Trainer.from_config(make_cfg("model.hidden=8", steps=1), out_dir=tmp_path)
    with pytest.raises(CheckpointError) as info:
        wider.resume()  # refused first as a config change
    assert "model.hidden: 16 -> 8" in info.value.message
    with pytest.raises(CheckpointError) as info:
        wider.resume(force=True)
    message = info.value.message
    assert "net.0.weight" in message
    assert "(16, 2)" in message and "(8, 2)" in message
    assert wider.step == 0


@pytest.mark.slow
def test_resume_falls_back_to_the_previous_checkpoint_when_last_is_corrupt(make_cfg, tmp_path):
    cfg = make_cfg("log.checkpoint_every=1", steps=2)
    Trainer.from_config(cfg, out_dir=tmp_path).fit()
    last = tmp_path / "checkpoints" / "last.pt"
    assert (tmp_path / "checkpoints" / "last.pt.prev").is_file()
    last.write_bytes(last.read_bytes()[:-100])  # torn write
    trainer = Trainer.from_config(cfg, out_dir=tmp_path)
    warnings = trainer.resume()
    assert warnings and "last.pt" in warnings[0]
    assert trainer.step == 1


def test_resume_without_checkpoint_is_an_error(make_cfg, tmp_path):
    trainer = Trainer.from_config(make_cfg(steps=1), out_dir=tmp_path)
    with pytest.raises(CheckpointError):
        trainer.resume()


@pytest.mark.slow
def test_load_run_restores_the_trained_generator(make_cfg, tmp_path):
    trainer = Trainer.from_config(make_cfg("ema.decay=0.5", steps=2), out_dir=tmp_path)
    trainer.fit()
    again = load_run(tmp_path)
    assert again.step == 2
    z = torch.randn(8, 2)
    assert torch.equal(again.sample(8, z=z), trainer.sample(8, z=z))


def test_training_without_out_dir_writes_nothing(make_cfg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Trainer.from_config(make_cfg(steps=2)).fit()
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- faults


def test_a_non_finite_step_rolls_back_and_lowers_learning_rates(make_cfg, monkeypatch):
    trainer = Trainer.from_config(make_cfg("fault.max_rollbacks=2", "optim.g_lr=1e-3",
                                           "optim.d_lr=1e-3", steps=3))
    method = trainer.method
    original = method.d_step
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second iteration fails once
            raise NonFiniteError("D", "adversarial loss")
        return original(*args, **kwargs)

    monkeypatch.setattr(method, "d_step", flaky)
    trainer.fit()
    assert trainer.step == 3
    assert trainer.rollbacks == 1
    assert trainer.lr_scale == pytest.approx(0.5)
    assert method.optimizers["D"].param_groups[0]["lr"] == pytest.approx(0.5e-3)
    for net in method.networks.values():
        assert all(torch.isfinite(p).all() for p in net.parameters())


def test_persistent_non_finite_values_stop_with_a_diagnosis(make_cfg, monkeypatch):
    trainer = Trainer.from_config(make_cfg("fault.max_rollbacks=2", steps=3))

    def broken(*args, **kwargs):
        raise NonFiniteError("D", "gradient penalty")

    monkeypatch.setattr(trainer.method, "d_step", broken)
    with pytest.raises(DivergenceError) as info:
        trainer.fit()
    assert "gradient penalty" in info.value.message and "D" in info.value.message
    assert trainer.rollbacks == 2
    assert trainer.step == 0


# ----------------------------------------------------------------------------- Python API


def test_python_api_trains_user_modules(user_modules, capsys):
    user_g, user_d = user_modules
    torch.manual_seed(0)
    data = torch.randn(512, 2) * 0.5 + torch.tensor([1.0, -1.0])
    G, D = user_g(), user_d()  # D has no forward_features
    assert not hasattr(D, "forward_features")
    g0 = [p.detach().clone() for p in G.parameters()]
    trainer = Trainer(G, D, data, {"method": "wgan-gp", "steps": 5})
    result = trainer.fit()
    assert trainer.step == 5
    assert trainer.method.counts == {"D": 25, "G": 5}
    assert trainer.method.G is G and trainer.method.D is D
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert math.isfinite(result["swd"])
    assert all(math.isfinite(r["lipschitz/gp"]) for r in trainer.history)
    capsys.readouterr()


def test_python_api_accepts_a_config_object_and_numpy(user_modules, make_cfg):
    user_g, user_d = user_modules
    cfg = make_cfg(method="hinge", steps=2)
    data = torch.randn(64, 2).numpy()
    trainer = Trainer(user_g(), user_d(), data, cfg)
    trainer.fit()
    assert trainer.step == 2


def test_generator_output_shape_mismatch_is_a_shape_error(user_modules):
    user_g, user_d = user_modules
    with pytest.raises(ShapeError) as info:
        Trainer(user_g(out=3), user_d(), torch.randn(64, 2), {"steps": 1})
    message = info.value.message
    assert "generator" in message and "(3,)" in message and "(2,)" in message


def test_discriminator_with_two_outputs_is_a_shape_error(user_modules):
    user_g, user_d = user_modules
    with pytest.raises(ShapeError) as info:
        Trainer(user_g(), user_d(out=2), torch.randn(64, 2), {"steps": 1})
    message = info.value.message
    assert "discriminator" in message and "(2, 2)" in message
    assert "(2,) or (2, 1)" in message


def test_generator_without_latent_dim_is_a_shape_error(user_modules):
    _, user_d = user_modules
    with pytest.raises(ShapeError) as info:
        Trainer(nn.Linear(4, 2), user_d(), torch.randn(64, 2), {"steps": 1})
    assert "latent_dim" in info.value.message


def test_discriminator_rejecting_the_data_shape_is_a_shape_error(user_modules):
    user_g, _ = user_modules
    with pytest.raises(ShapeError) as info:
        Trainer(user_g(), nn.Linear(3, 1), torch.randn(64, 2), {"steps": 1})
    assert "discriminator" in info.value.message
