"""Tricks: EMA maths, DiffAugment ops, replay buffer, unrolled critic parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from stablegan.config import ModelConfig
from stablegan.errors import ConfigError
from stablegan.models import build_discriminator
from stablegan.objectives import Objective
from stablegan.tricks import (
    DiffAugment,
    ExponentialMovingAverage,
    ReplayBuffer,
    unrolled_parameters,
)
from stablegan.tricks.augment import color, cutout, translation

# ----------------------------------------------------------------------------- EMA


def _bn_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_ema_starts_as_an_independent_frozen_copy():
    model = _bn_model()
    ema = ExponentialMovingAverage(model, decay=0.9)
    for s, p in zip(ema.shadow.parameters(), model.parameters()):
        assert torch.equal(s, p) and s.data_ptr() != p.data_ptr()
        assert not s.requires_grad
    assert not ema.shadow.training
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(ema.shadow[0].weight, model[0].weight)


def test_ema_update_is_exactly_the_convex_combination():
    model = _bn_model()
    b = 0.75
    ema = ExponentialMovingAverage(model, decay=b)
    old = [p.detach().clone() for p in ema.shadow.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    ema.update(model, step=1)
    for s, o, p in zip(ema.shadow.parameters(), old, model.parameters()):
        assert torch.allclose(s, b * o + (1 - b) * p.detach(), rtol=0, atol=1e-6)


def test_ema_update_exact_on_dyadic_values():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
    ema = ExponentialMovingAverage(model, decay=0.75)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[3.0, 2.0]]))
    ema.update(model, step=1)
    assert ema.shadow.weight.tolist() == [[1.5, -1.0]]  # 0.75 old + 0.25 new, bit exact
    ema.update(model, step=2)
    assert ema.shadow.weight.tolist() == [[1.875, -0.25]]


def test_ema_copies_buffers():
    model = _bn_model().train()
    ema = ExponentialMovingAverage(model, decay=0.5)
    model(torch.randn(16, 3) * 5 + 2)  # moves BatchNorm's running statistics
    ema.update(model, step=1)
    for (name, s), b in zip(ema.shadow.named_buffers(), model.buffers()):
        assert torch.equal(s, b), name  # copied, not averaged
    assert int(ema.shadow[1].num_batches_tracked) == 1


def test_ema_before_start_is_a_copy():
    model = _bn_model()
    ema = ExponentialMovingAverage(model, decay=0.9, start=5)
    for step in (1, 4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        ema.update(model, step=step)
        for s, p in zip(ema.shadow.parameters(), model.parameters()):
            assert torch.equal(s, p)
    old = [p.detach().clone() for p in ema.shadow.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model, step=5)  # averaging from `start` on
    for s, o, p in zip(ema.shadow.parameters(), old, model.parameters()):
        assert torch.allclose(s, 0.9 * o + 0.1 * p.detach(), rtol=0, atol=1e-6)
        assert not torch.equal(s, p)


def test_ema_state_dict_round_trip():
    model = _bn_model()
    ema = ExponentialMovingAverage(model, decay=0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)
    ema.update(model, step=1)
    other = ExponentialMovingAverage(_bn_model(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    for a, b in zip(other.shadow.state_dict().values(), ema.shadow.state_dict().values()):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------- DiffAugment


def _images(b: int = 8, c: int = 3, s: int = 8) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(b, c, s, s) + 0.5  # strictly positive: zeros come only from padding/cutout


@pytest.mark.parametrize("policy", ["translation", "cutout", "color",
                                    "translation,cutout,color", "color, translation"])
def test_augment_keeps_shape_and_is_differentiable(policy):
    x = _images().requires_grad_(True)
    y = DiffAugment(policy)(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize("op", [translation, cutout, color])
def test_each_op_changes_the_image(op):
    x = _images()
    torch.manual_seed(1)
    y = op(x)
    assert not torch.equal(y, x)
    changed = [not torch.equal(y[i], x[i]) for i in range(x.shape[0])]
    assert sum(changed) >= x.shape[0] // 2


def test_translation_is_a_shift_with_zero_padding():
    x = _images(b=16)
    torch.manual_seed(2)
    y = translation(x)  # 8 px * 1/8: shifts in {-1, 0, 1}^2
    padded = nn.functional.pad(x, [1, 1, 1, 1])
    shifts = set()
    for i in range(x.shape[0]):
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(y[i], padded[i, :, 1 + dy:9 + dy, 1 + dx:9 + dx])]
        assert matches, f"sample {i} is not a shifted copy"
        shifts.add(matches[0])
    assert len(shifts) > 1  # independent shifts per sample


def test_cutout_zeroes_one_square_per_sample_across_channels():
    x = _images(b=16)
    torch.manual_seed(3)
    y = cutout(x)  # a square of side 4 (half of 8), clipped at the border
    kept = y == x
    zeroed = y == 0
    assert bool((kept | zeroed).all())  # nothing else changes
    mask = zeroed[:, 0]
    assert torch.equal(zeroed, mask.unsqueeze(1).expand_as(zeroed))  # same hole in every channel
    for i in range(x.shape[0]):
        rows = mask[i].any(dim=1).nonzero().flatten()
        cols = mask[i].any(dim=0).nonzero().flatten()
        assert 0 < len(rows) <= 4 and 0 < len(cols) <= 4
        assert int(mask[i].sum()) == len(rows) * len(cols)  # a (clipped) rectangle


def test_color_is_a_per_sample_affine_colour_change():
    x = _images(b=16)
    torch.manual_seed(4)
    y = color(x)
    assert torch.isfinite(y).all()
    # per-sample statistics change, by different amounts per sample
    dm = (y.mean(dim=[1, 2, 3]) - x.mean(dim=[1, 2, 3])).abs()
    assert float(dm.max()) > 0.05 and float(dm.std()) > 0


def test_augment_off_and_probability_zero_are_identity():
    x = _images()
    off = DiffAugment("")
    assert not off and off(x) is x
    assert DiffAugment("translation,cutout")
    never = DiffAugment("translation,cutout,color", probability=0.0)
    assert torch.equal(never(x), x)


def test_augment_refuses_non_image_input():
    with pytest.raises(ConfigError) as info:
        DiffAugment("translation")(torch.randn(8, 2))
    assert "(B, C, H, W)" in info.value.message
    assert "augment.policy" in info.value.message


def test_augment_refuses_unknown_op():
    with pytest.raises(ConfigError):
        DiffAugment("translation,zoom")


# ----------------------------------------------------------------------------- replay buffer


def _ids(start: int, n: int) -> torch.Tensor:
    """Rows (id, -id): every fake is identifiable."""
    ids = torch.arange(start, start + n, dtype=torch.float32)
    return torch.stack([ids, -ids], dim=1)


def test_replay_first_batch_passes_through_and_is_stored():
    buf = ReplayBuffer(size=10, fraction=0.25)
    fake = _ids(0, 8)
    assert torch.equal(buf.mix(fake), fake)
    assert buf.seen == 8 and buf.items.shape == (8, 2)


@pytest.mark.parametrize(("fraction", "batch", "n_old"), [(0.25, 8, 2), (0.3, 8, 2), (0.4, 8, 3),
                                                          (0.5, 16, 8), (0.1, 4, 0)])
def test_replay_mixes_round_fraction_b_old_rows(fraction, batch, n_old):
    torch.manual_seed(0)
    buf = ReplayBuffer(size=50, fraction=fraction)
    seen = _ids(0, batch)
    buf.mix(seen)
    fake = _ids(1000, batch)
    out = buf.mix(fake)
    assert out.shape == fake.shape
    assert torch.equal(out[: batch - n_old], fake[: batch - n_old])
    old_ids = set(seen[:, 0].tolist())
    assert all(row in old_ids for row in out[batch - n_old:, 0].tolist())
    assert not out.requires_grad


def test_replay_keeps_at_most_size_and_only_seen_fakes():
    torch.manual_seed(0)
    buf = ReplayBuffer(size=10, fraction=0.5)
    for k in range(20):
        buf.mix(_ids(8 * k, 8))
        assert buf.items.shape[0] == min(10, 8 * (k + 1))
    assert buf.seen == 160
    ids = buf.items[:, 0]
    assert torch.equal(buf.items[:, 1], -ids)  # whole rows, never mixed up
    assert bool(((ids >= 0) & (ids < 160)).all())
    assert ids.unique().numel() == 10
    # reservoir: late fakes get in too
    assert float(ids.max()) >= 80


def test_replay_reservoir_is_roughly_uniform_over_history():
    torch.manual_seed(0)
    counts = torch.zeros(2)
    for _ in range(200):
        buf = ReplayBuffer(size=8, fraction=0.0)
        for k in range(8):
            buf._store(_ids(8 * k, 8))
        counts[0] += float((buf.items[:, 0] < 32).sum())
        counts[1] += float((buf.items[:, 0] >= 32).sum())
    # first and second half of the history are equally represented
    assert float(counts[0] / counts.sum()) == pytest.approx(0.5, abs=0.05)


def test_replay_state_dict_round_trip():
    torch.manual_seed(0)
    buf = ReplayBuffer(size=12, fraction=0.5)
    for k in range(4):
        buf.mix(_ids(8 * k, 8))
    state = buf.state_dict()
    copy = ReplayBuffer(size=12, fraction=0.5)
    copy.load_state_dict(state)
    assert torch.equal(copy.items, buf.items) and copy.seen == buf.seen
    rng = torch.get_rng_state()
    out_a = buf.mix(_ids(500, 8))
    torch.set_rng_state(rng)
    out_b = copy.mix(_ids(500, 8))
    assert torch.equal(out_a, out_b)
    assert torch.equal(copy.items, buf.items) and copy.seen == buf.seen


def test_replay_loaded_state_is_not_shared_with_the_source():
    torch.manual_seed(0)
    buf = ReplayBuffer(size=8, fraction=0.5)
    for k in range(3):
        buf.mix(_ids(8 * k, 8))
    snapshot = buf.items.clone()
    copy = ReplayBuffer(size=8, fraction=0.5)
    copy.load_state_dict(buf.state_dict())
    for k in range(3, 10):
        copy.mix(_ids(8 * k, 8))
    assert torch.equal(buf.items, snapshot), "training the copy changed the original buffer"


def test_replay_state_survives_a_safe_torch_save(tmp_path):
    buf = ReplayBuffer(size=6, fraction=0.5)
    buf.mix(_ids(0, 4))
    path = tmp_path / "r.pt"
    torch.save(buf.state_dict(), path)
    copy = ReplayBuffer(size=6, fraction=0.5)
    copy.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(copy.items, buf.items) and copy.seen == 4


# ----------------------------------------------------------------------------- unrolled


def _unrolled_setup():
    torch.manual_seed(0)
    critic = build_discriminator(ModelConfig(name="mlp", hidden=8, layers=1), (2,))
    gen = nn.Linear(2, 2)
    z = torch.randn(16, 2)
    reals = [torch.randn(16, 2) + 1 for _ in range(3)]
    return critic, gen, z, reals, Objective("nonsaturating")


def test_zero_unrolled_steps_returns_the_original_parameters():
    critic, _, _, _, obj = _unrolled_setup()
    params = unrolled_parameters(critic, obj.d_loss, [], torch.randn(16, 2), lr=0.1)
    own = dict(critic.named_parameters())
    assert params.keys() == own.keys()
    for k, v in own.items():
        assert params[k] is v


def test_unrolled_steps_are_sgd_on_the_d_loss_and_leave_the_critic_alone():
    critic, gen, z, reals, obj = _unrolled_setup()
    before = {k: v.detach().clone() for k, v in critic.named_parameters()}
    fake = gen(z).detach()
    lr = 0.1
    params = unrolled_parameters(critic, obj.d_loss, reals[:1], fake, lr)
    loss = obj.d_loss(critic(reals[0]), critic(fake))
    grads = torch.autograd.grad(loss, list(critic.parameters()))
    for (k, p), g in zip(critic.named_parameters(), grads):
        assert torch.allclose(params[k], p - lr * g, atol=1e-7)
        assert torch.equal(p.detach(), before[k])  # the real critic is untouched


def test_unrolled_generator_gradient_differs_from_plain_one():
    critic, gen, z, reals, obj = _unrolled_setup()

    def g_grad(steps: int, through_fake: bool) -> list[torch.Tensor]:
        fake = gen(z)
        target = fake if through_fake else fake.detach()
        params = unrolled_parameters(critic, obj.d_loss, reals[:steps], target, lr=0.5)
        loss = obj.g_loss(functional_call(critic, params, (fake,)))
        return [g.detach() for g in torch.autograd.grad(loss, list(gen.parameters()))]

    plain = g_grad(0, True)
    plain_direct = torch.autograd.grad(obj.g_loss(critic(gen(z))), list(gen.parameters()))
    for a, b in zip(plain, plain_direct):
        assert torch.allclose(a, b, atol=1e-7)
    for k in (1, 3):
        look_ahead = g_grad(k, False)
        full = g_grad(k, True)
        assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, look_ahead))
        # the second-order term: G's gradient flows through the unrolled SGD steps
        assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(look_ahead, full))
        assert all(torch.isfinite(g).all() for g in full)
