"""Methods and schedule: step counts, warm-up, learning rates, presets and tricks in a trainer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from stablegan import Trainer
from stablegan.errors import ConfigError, ShapeError
from stablegan.methods import PRESETS, GANMethod, NonFiniteError, PPOGANMethod
from stablegan.models import MinibatchDiscrimination, MinibatchStdDev
from stablegan.tricks import unrolled_parameters

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def _trainer(make_cfg, *overrides, method="nsgan", steps=3) -> Trainer:
    return Trainer.from_config(make_cfg(*overrides, method=method, steps=steps))


def _finite_rows(trainer: Trainer) -> None:
    assert trainer.history, "no rows logged"
    for row in trainer.history:
        for key in ("loss/d", "loss/g"):
            assert math.isfinite(row[key]), (key, row)


# ----------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(("n_critic", "n_gen"), [(1, 1), (3, 2), (5, 1)])
def test_iteration_runs_n_critic_d_steps_and_n_gen_g_steps(make_cfg, n_critic, n_gen):
    trainer = _trainer(make_cfg, f"schedule.n_critic={n_critic}", f"schedule.n_gen={n_gen}")
    m = trainer.method
    assert m.counts == {"D": 0, "G": 0}
    trainer.method.iteration(diagnostics=False)
    assert m.counts == {"D": n_critic, "G": n_gen}
    trainer.method.iteration(diagnostics=True)
    assert m.counts == {"D": 2 * n_critic, "G": 2 * n_gen}
    assert trainer.batches_consumed() == 2 * (n_critic + n_gen)


@pytest.mark.parametrize(("n_critic", "n_gen"), [(5, 5), (2, 3)])
def test_ppo_gan_runs_one_classifier_step_per_generator_step(make_cfg, n_critic, n_gen):
    trainer = _trainer(make_cfg, f"schedule.n_critic={n_critic}", f"schedule.n_gen={n_gen}",
                       method="ppo-gan")
    m = trainer.method
    assert isinstance(m, PPOGANMethod)
    stats = trainer.method.iteration(diagnostics=False)
    assert m.counts == {"D": n_critic, "G": n_gen, "C": n_gen}
    for key in ("ratio/mean", "ratio/clip_fraction", "weights/ess", "classifier/loss"):
        assert math.isfinite(stats[key]), key
    assert 1.0 <= stats["weights/ess"] <= 16.0


def test_classifier_step_sees_reals_and_fakes_in_one_batch(make_cfg):
    """With BatchNorm in C, separate real and fake passes would let C separate them by batch
    statistics that its eval-mode ratio logits never see; the C step must use one batch."""
    trainer = _trainer(make_cfg, method="ppo-gan")
    m = trainer.method
    sizes: list[int] = []
    hook = m.C.register_forward_pre_hook(lambda mod, args: sizes.append(args[0].shape[0]))
    try:
        m.ratio.update()
    finally:
        hook.remove()
    assert sizes == [2 * trainer.cfg.data.batch_size]


@pytest.mark.slow
def test_d_warmup_and_classifier_warmup_run_once_before_training(make_cfg):
    trainer = _trainer(make_cfg, "schedule.d_warmup=4", "variational.classifier_warmup=3",
                       "schedule.n_critic=2", "schedule.n_gen=2", method="ppo-gan", steps=2)
    trainer.fit()
    assert trainer.method.counts == {"D": 4 + 2 * 2, "G": 2 * 2, "C": 3 + 2 * 2}
    trainer.fit(steps=3)  # continuing in-process does not warm up again
    assert trainer.method.counts == {"D": 4 + 3 * 2, "G": 3 * 2, "C": 3 + 3 * 2}


def test_d_warmup_alone(make_cfg):
    trainer = _trainer(make_cfg, "schedule.d_warmup=3", steps=1)
    trainer.fit()
    assert trainer.method.counts == {"D": 4, "G": 1}


# ----------------------------------------------------------------------------- learning rates


@pytest.mark.slow
def test_ttur_learning_rates_land_in_the_optimisers(make_cfg):
    trainer = _trainer(make_cfg, "optim.g_lr=1e-4", "optim.d_lr=4e-4", "optim.c_lr=3e-4",
                       "optim.betas=[0.1,0.8]", method="ppo-gan", steps=2)
    opts = trainer.method.optimizers
    lrs = {k: o.param_groups[0]["lr"] for k, o in opts.items()}
    assert lrs == {"G": 1e-4, "D": 4e-4, "C": 3e-4}
    assert all(o.param_groups[0]["betas"] == (0.1, 0.8) for o in opts.values())
    trainer.fit()
    assert {k: o.param_groups[0]["lr"] for k, o in opts.items()} == lrs
    assert trainer.history[-1]["lr/g"] == 1e-4 and trainer.history[-1]["lr/d"] == 4e-4
    # each optimiser holds exactly its own network's parameters
    for name, net in trainer.method.networks.items():
        assert {id(p) for p in opts[name].param_groups[0]["params"]} == \
            {id(p) for p in net.parameters()}


def test_classifier_lr_divide(make_cfg):
    trainer = _trainer(make_cfg, "optim.g_lr=1e-4", "optim.c_lr=3e-4", "optim.d_lr=2e-4",
                       "schedule.n_gen=4", "variational.classifier_lr_divide=true",
                       method="ppo-gan")
    lrs = {k: o.param_groups[0]["lr"] for k, o in trainer.method.optimizers.items()}
    assert lrs == pytest.approx({"G": 1e-4 / 4, "D": 2e-4, "C": 3e-4 / 4})


def test_linear_lr_decay_reaches_zero_at_the_end(make_cfg):
    steps = 5
    trainer = _trainer(make_cfg, "optim.lr_decay=linear", "optim.g_lr=1e-3", "optim.d_lr=2e-3",
                       steps=steps)
    trainer.fit()
    g_lrs = [row["lr/g"] for row in trainer.history]
    d_lrs = [row["lr/d"] for row in trainer.history]
    # iteration i (0-based) runs at base * (1 - i / steps)
    assert g_lrs == pytest.approx([1e-3 * (1 - i / steps) for i in range(steps)])
    assert d_lrs == pytest.approx([2e-3 * (1 - i / steps) for i in range(steps)])
    assert trainer._lr_factor() == 0.0
    trainer.method.set_lr(trainer._lr_factor())
    assert all(o.param_groups[0]["lr"] == 0.0 for o in trainer.method.optimizers.values())


def test_no_decay_keeps_the_learning_rate(make_cfg):
    trainer = _trainer(make_cfg, "optim.g_lr=1e-3", steps=4)
    trainer.fit()
    assert [row["lr/g"] for row in trainer.history] == [1e-3] * 4


def test_grad_clip_bounds_every_network_gradient(make_cfg):
    clip = 1e-4
    trainer = _trainer(make_cfg, f"optim.grad_clip={clip}", "optim.g_lr=1e-3")
    m = trainer.method

    def grad_norm(name: str) -> float:
        grads = [p.grad for p in m.networks[name].parameters() if p.grad is not None]
        return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))

    m.d_step()  # the gradient left after the step is the clipped one
    assert clip * 0.99 <= grad_norm("D") <= clip * (1 + 1e-4)
    (stats,) = m.g_phase()
    assert stats["grad/g_norm"] > clip  # the raw norm was larger: clipping did something
    assert clip * 0.99 <= grad_norm("G") <= clip * (1 + 1e-4)


def test_without_grad_clip_gradients_are_untouched(make_cfg):
    trainer = _trainer(make_cfg, "optim.g_lr=1e-3")
    stats = trainer.method.iteration(diagnostics=False)
    grads = [p.grad for p in trainer.method.G.parameters() if p.grad is not None]
    total = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    assert total == pytest.approx(float(stats["grad/g_norm"]), rel=1e-5)


# ----------------------------------------------------------------------------- presets


# the class-conditional presets need labelled data: tests/test_conditional.py runs them
UNCONDITIONAL = sorted(n for n, (_, frag) in PRESETS.items() if "conditional" not in frag)


@pytest.mark.parametrize("name", UNCONDITIONAL)
@pytest.mark.slow
def test_every_preset_runs_on_the_ring(make_cfg, name):
    trainer = _trainer(make_cfg, method=name, steps=3)
    result = trainer.fit()
    assert trainer.step == 3
    _finite_rows(trainer)
    cfg = trainer.cfg
    n_gen = cfg.schedule.n_gen
    assert trainer.method.counts["D"] == 3 * cfg.schedule.n_critic
    assert trainer.method.counts["G"] == 3 * n_gen
    if cfg.variational.clip:
        assert trainer.method.counts["C"] == 3 * n_gen
    assert math.isfinite(result["swd"])


@pytest.mark.parametrize("name", UNCONDITIONAL)
@pytest.mark.slow
def test_every_preset_runs_on_tiny_images_with_augment(make_cfg, image_overrides, name):
    cfg = make_cfg(*image_overrides, "augment.policy=translation,cutout,color", method=name,
                   steps=3)
    trainer = Trainer.from_config(cfg)
    assert trainer.data.task == "images" and bool(trainer.method.augment)
    trainer.fit()
    assert trainer.step == 3
    _finite_rows(trainer)


def test_build_method_picks_ppo_only_with_ratio_clipping(make_cfg):
    assert type(_trainer(make_cfg, method="ppo-gan-reweight").method) is GANMethod
    assert type(_trainer(make_cfg, method="ppo-gan-clip").method) is PPOGANMethod
    assert "C" not in _trainer(make_cfg, method="ppo-gan-reweight").method.counts


# ----------------------------------------------------------------------------- tricks in training


def test_ema_generator_is_used_for_sampling(make_cfg):
    trainer = _trainer(make_cfg, "ema.decay=0.5", "optim.g_lr=1e-2")
    trainer.fit()
    shadow, G = trainer.ema.shadow, trainer.method.G
    assert trainer.generator_for_sampling() is shadow
    z = torch.randn(32, 2)
    with torch.no_grad():
        expected = shadow.eval()(z)
        live = G.eval()(z)
    assert torch.equal(trainer.sample(32, z=z), expected)
    assert not torch.allclose(expected, live)


def test_without_ema_sampling_uses_the_generator(make_cfg):
    trainer = _trainer(make_cfg)
    assert trainer.ema is None
    assert trainer.generator_for_sampling() is trainer.method.G


@pytest.mark.parametrize(
    ("overrides", "stat"),
    [
        (["objective.feature_matching=1.0"], "loss/feature_matching"),
        (["objective.feature_matching=1.0", "objective.feature_matching_only=true"],
         "loss/feature_matching"),
        (["model.minibatch_stddev=true"], None),
        (["model.minibatch_discrimination=4"], None),
        (["unrolled.steps=2"], None),
        (["unrolled.steps=2", "objective.feature_matching=0.5"], "loss/feature_matching"),
        (["replay.size=64", "replay.fraction=0.5"], None),
        (["variational.reweight=true"], "weights/ess"),
        (["objective.label_smoothing=0.1", "objective.label_noise=0.1"], None),
    ],
)
def test_tricks_run_in_a_trainer(make_cfg, overrides, stat):
    trainer = _trainer(make_cfg, *overrides)
    trainer.fit()
    _finite_rows(trainer)
    if stat:
        assert all(math.isfinite(row[stat]) for row in trainer.history)


def test_feature_matching_only_drops_the_adversarial_term(make_cfg):
    trainer = _trainer(make_cfg, "objective.feature_matching=2.0",
                       "objective.feature_matching_only=true")
    m = trainer.method
    z = m.sample_z(16)
    loss, terms, stats = m.generator_loss(z, m.G(z))
    assert set(terms) == {"feature matching"}
    assert float(loss) == pytest.approx(2.0 * float(stats["loss/feature_matching"]), rel=1e-6)


def test_minibatch_layers_are_built_into_the_critic(make_cfg):
    t1 = _trainer(make_cfg, "model.minibatch_stddev=true")
    assert any(isinstance(m, MinibatchStdDev) for m in t1.method.D.modules())
    t2 = _trainer(make_cfg, "model.minibatch_discrimination=3")
    layers = [m for m in t2.method.D.modules() if isinstance(m, MinibatchDiscrimination)]
    assert len(layers) == 1 and layers[0].num_kernels == 3


def test_unrolled_generator_step_leaves_the_critic_unchanged(make_cfg):
    trainer = _trainer(make_cfg, "unrolled.steps=2", "unrolled.lr=0.5")
    m = trainer.method
    before = {k: v.detach().clone() for k, v in m.D.state_dict().items()}
    g_before = [p.detach().clone() for p in m.G.parameters()]
    m.g_phase()
    for k, v in m.D.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(a, b) for a, b in zip(g_before, m.G.parameters()))
    assert m.counts == {"D": 0, "G": 1}


def test_unrolled_generator_gradient_flows_through_the_unrolled_steps(make_cfg):
    trainer = _trainer(make_cfg, "unrolled.steps=1", "unrolled.lr=0.5")
    m = trainer.method
    G_params = list(m.G.parameters())
    data_state = m.data.state_dict()
    z = m.sample_z(16)
    loss, _, _ = m.generator_loss(z, m.G(z))
    got = torch.autograd.grad(loss, G_params)

    def reference(through_fake: bool) -> list[torch.Tensor]:
        m.data.load_state_dict(data_state)  # the same real batch as generator_loss drew
        fake = m.G(z)
        params = unrolled_parameters(m.D, m.objective.d_loss, [m.real_batch()],
                                     fake if through_fake else fake.detach(), 0.5)
        g_loss = m.objective.g_loss(functional_call(m.D, params, (fake,)))
        return list(torch.autograd.grad(g_loss, G_params))

    look_ahead, full = reference(False), reference(True)
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(look_ahead, full))
    for a, b in zip(got, full):
        assert torch.allclose(a, b, atol=1e-6)


def test_replay_buffer_fills_from_every_critic_step(make_cfg):
    trainer = _trainer(make_cfg, "replay.size=40", "replay.fraction=0.25", "schedule.n_critic=2")
    trainer.fit()
    buf = trainer.method.replay
    assert buf.seen == 3 * 2 * 16
    assert buf.items.shape == (40, 2)


# ----------------------------------------------------------------------------- PPO-GAN details


class _SaturatedClassifier(nn.Module):
    """Logits near -100 at the new samples (while the old ones were at +100)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -100.0 + 1e-3 * x.flatten(1).sum(dim=1)


def test_saturated_classifier_gives_finite_generator_gradient(make_cfg):
    trainer = _trainer(make_cfg, "variational.clip_mode=reference", method="ppo-gan")
    m = trainer.method
    z = m.sample_z(16)
    m.begin_generator_phase(z)
    m.ratio.logit_old = torch.full((16,), 100.0)
    m.ratio.C = _SaturatedClassifier()
    fake = m.G(z)
    loss, _, stats = m.generator_loss(z, fake)
    assert stats["ratio/clip_fraction"] == 1.0
    eps = trainer.cfg.variational.eps
    grads = torch.autograd.grad(loss, list(m.G.parameters()))
    # every sample is clipped: L = -(1 + eps) mean f(G(z)), so that is the gradient
    expected = torch.autograd.grad(-(1 + eps) * m.D(m.G(z)).mean(), list(m.G.parameters()))
    for g, e in zip(grads, expected):
        assert torch.isfinite(g).all()
        assert torch.allclose(g, e, rtol=1e-4, atol=1e-7)


def test_first_ratio_is_one_when_the_classifier_is_unchanged(make_cfg):
    trainer = _trainer(make_cfg, method="ppo-gan")
    m = trainer.method
    z = m.sample_z(16)
    m.begin_generator_phase(z)
    log_r = m.ratio.log_ratio(m.G(z))  # no C step yet and G unchanged
    assert torch.equal(log_r, torch.zeros(16))


def test_non_finite_log_ratio_is_caught_before_any_weight_changes(make_cfg, monkeypatch):
    trainer = _trainer(make_cfg, method="ppo-gan")
    m = trainer.method
    z = m.sample_z(16)
    m.begin_generator_phase(z)
    monkeypatch.setattr(m.ratio, "log_ratio", lambda x: torch.full((x.shape[0],), float("nan")))
    before = [p.detach().clone() for p in m.G.parameters()]
    with pytest.raises(NonFiniteError) as info:
        m.g_step(z)
    assert info.value.network == "G"
    assert all(torch.equal(a, b) for a, b in zip(before, m.G.parameters()))


def test_ratio_clipping_needs_one_latent_batch(make_cfg):
    trainer = _trainer(make_cfg, "schedule.same_z_for_gen_steps=false", method="ppo-gan")
    with pytest.raises(ConfigError) as info:
        trainer.method.iteration(diagnostics=False)
    assert "same_z_for_gen_steps" in info.value.hint


def test_exact_ratio_needs_a_generator_with_log_prob(make_cfg):
    with pytest.raises(ConfigError) as info:
        _trainer(make_cfg, "variational.ratio=exact", method="ppo-gan")
    assert "log_prob" in info.value.message


def test_same_z_reuses_one_latent_batch(make_cfg, monkeypatch):
    trainer = _trainer(make_cfg, "schedule.n_gen=3", "schedule.same_z_for_gen_steps=true")
    seen = []
    original = trainer.method.g_step
    monkeypatch.setattr(trainer.method, "g_step", lambda z: seen.append(z) or original(z))
    trainer.method.g_phase()
    assert len(seen) == 3 and all(s is seen[0] for s in seen)


def test_critic_returning_two_scores_is_a_shape_error(make_cfg):
    trainer = _trainer(make_cfg)
    trainer.method.D = nn.Linear(2, 2)
    with pytest.raises(ShapeError) as info:
        trainer.method.critic_scores(torch.zeros(4, 2), "real")
    assert "(4, 2)" in info.value.message


def test_per_phase_classifier_schedule_gives_r_one_at_theta_old(make_cfg):
    """per_phase: the phase's C steps come first and C stays fixed, so the first generator step
    (G still at theta_old) sees r = 1 exactly; per_step (the authors') does not."""
    per_phase = _trainer(make_cfg, "variational.classifier_schedule=per_phase",
                         "schedule.n_gen=3", method="ppo-gan")
    m = per_phase.method
    z = m.sample_z(m.batch_size)
    m.begin_generator_phase(z)
    assert m.counts["C"] == 3  # all C steps before any G step
    first = m.g_step(z)
    assert first["ratio/mean"] == pytest.approx(1.0, abs=1e-6)
    assert first["ratio/std"] == pytest.approx(0.0, abs=1e-6)
    assert "classifier/accuracy" in first
    per_phase.method.iteration(diagnostics=False)
    assert m.counts["C"] == 6 and m.counts["G"] == 4

    per_step = _trainer(make_cfg, "schedule.n_gen=3", method="ppo-gan")
    p = per_step.method
    p.begin_generator_phase(z)
    assert p.counts["C"] == 0
    assert p.g_step(z)["ratio/std"] > 0  # C moved between C_old and C


def test_detached_ratio_gives_the_clip_masked_critic_gradient(make_cfg):
    """variational.ratio_gradient=false: G's gradient is -mean(c * grad f), c = r where Eq. 5
    picks r f and clip(r) where it picks the clipped branch; no gradient reaches C."""
    trainer = _trainer(make_cfg, "variational.ratio_gradient=false", "variational.eps=0.2",
                       method="ppo-gan")
    m = trainer.method
    z = m.sample_z(16)
    m.begin_generator_phase(z)
    # a C that moved: logits spread around the old ones, so some samples clip and some do not
    m.ratio.logit_old = m.ratio.logit_old + torch.linspace(-1.0, 1.0, 16)
    fake = m.G(z)
    loss, _, stats = m.generator_loss(z, fake)
    assert 0.0 < stats["ratio/clip_fraction"] < 1.0
    params = list(m.G.parameters())
    grads = torch.autograd.grad(loss, params + list(m.ratio.C.parameters()), allow_unused=True)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in grads[len(params):])
    with torch.no_grad():
        f = m.D(m.G(z)).reshape(-1)
        r = m.ratio.log_ratio(m.G(z)).exp()
        clipped = r.clamp(0.8, 1.2)
        coef = torch.where(r * f <= clipped * f, r, clipped)
    expected = torch.autograd.grad(-(coef * m.D(m.G(z)).reshape(-1)).mean(), params)
    for g, e in zip(grads[:len(params)], expected):
        assert torch.allclose(g, e, rtol=1e-4, atol=1e-7)
    # with the gradient through r (the default) the two differ
    m.cfg.variational.ratio_gradient = True
    loss2, _, _ = m.generator_loss(z, m.G(z))
    full = torch.autograd.grad(loss2, params)
    assert any(not torch.allclose(a, b, rtol=1e-3, atol=1e-6) for a, b in zip(full, expected))


def test_detached_ratio_is_refused_with_the_exact_ratio(make_cfg):
    with pytest.raises(ConfigError) as info:
        make_cfg("variational.ratio=exact", "variational.ratio_gradient=false", method="ppo-gan")
    assert "variational.ratio_gradient" in info.value.message
