"""Text faithful to the reference code (issue 18): the exact-ratio advantage on the critic's own
input, RelGAN's temperature over a fixed N, NLL_gen on the training data, PPO's KL stop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stablegan import Trainer
from stablegan.objectives import per_sample
from stablegan.recipes import load_config

TINY = ["data.oracle_train=256", "data.oracle_test=128", "data.max_len=6", "data.batch_size=16",
        "model.head_size=8", "model.num_rep=4", "model.d_embed_dim=8", "model.d_filters=8",
        "model.embed_dim=8", "eval.n_samples=40", "log.progress=false",
        "log.tensorboard=false", "log.every=1"]


@pytest.fixture()
def oracle_cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))

    def make(*extra: str, steps: int = 3):
        return load_config("oracle", overrides=[*TINY, *extra], steps=steps)

    return make


EXACT = ("method=ppo-gan", "variational.ratio=exact", "variational.reweight=false")


def test_exact_ratio_advantage_scores_the_relaxed_sample_the_critic_trains_on(oracle_cfg):
    t = Trainer.from_config(oracle_cfg(*EXACT, "variational.advantage=raw"))
    m = t.method
    for _ in range(10):  # a critic that tells relaxed fakes from real one-hots a little
        m.d_step()
    m.D.eval()  # no dropout: the scores below are deterministic functions of the input
    m.G.beta = 0.5
    z = m.sample_z(16)
    with torch.no_grad():
        torch.manual_seed(7)
        o_ref, y_ref = m.G.relaxed_sample(16)
        torch.manual_seed(7)
        y_sample = m.G.sample(16)
    assert torch.equal(y_ref, y_sample)  # the phase draws the sentences sample() would
    torch.manual_seed(7)
    m.begin_generator_phase(z)
    x_old = m.ratio.samples(z)
    assert torch.equal(x_old, y_ref)
    assert torch.equal(o_ref.argmax(-1), x_old)
    loss, _, stats = m.generator_loss(z, x_old)
    with torch.no_grad():
        relaxed = per_sample(m.D(o_ref))
        hard = per_sample(m.D(F.one_hot(x_old, m.task.vocab_size).float()))
    # theta = theta_old: r = 1, so with the raw advantage L_G = -mean A = -mean D(relaxed)
    assert float(stats["ratio/mean"]) == pytest.approx(1.0, abs=1e-6)
    assert float(loss) == pytest.approx(-float(relaxed.mean()), rel=1e-6, abs=1e-7)
    assert float(stats["critic/g_fake"]) == pytest.approx(float(relaxed.mean()), rel=1e-6)
    # today's code scored the exact one-hots, a different input with a different score
    gap = abs(float(relaxed.mean()) - float(hard.mean()))
    assert gap > 1e-4 and abs(float(loss) + float(hard.mean())) > 100 * abs(
        float(loss) + float(relaxed.mean()))
    assert torch.equal(m.ratio.critic_input(), o_ref)  # kept beside the token ids


def test_nll_gen_on_the_training_set_counts_every_position_by_hand():
    """A generator whose next-token distribution is p = (0.1, 0.2, 0.3, 0.4) whatever the prefix
    (output weights 0, biases log p): the per-token NLLs are sums of -log p by hand."""
    from types import SimpleNamespace

    from stablegan.metrics.registry import Context, Side, get_metric
    from stablegan.models.text import LSTMGenerator

    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    G = LSTMGenerator(4, 3, embed_dim=2, hidden_dim=2)
    with torch.no_grad():
        G.out.weight.zero_()
        G.out.bias.copy_(p.log())
    train = torch.tensor([[3, 2, 0], [3, 3, 2]])  # <pad>=0, <eos>=2: padding counts
    test = torch.tensor([[2, 0, 0]])
    data = SimpleNamespace(reals=lambda n, split: {"train": train, "holdout": test}[split])
    task = SimpleNamespace(data=data, has_specials=True)
    ctx = Context(None, {"generator": G}, task=task)
    out = get_metric("nll_gen").compute(Side("fake", test), Side("ref", test), ctx)
    L = [-torch.log(p[i]).item() for i in range(4)]
    assert out["nll_gen"] == pytest.approx((L[3] + L[2] + L[0] + L[3] + L[3] + L[2]) / 6)
    assert out["nll_gen_test"] == pytest.approx((L[2] + 2 * L[0]) / 3)
    assert out["nll_gen_test_unpadded"] == pytest.approx(L[2])  # up to the first <eos>
    task.has_specials = False  # the oracle: no specials, no unpadded variant
    out = get_metric("nll_gen").compute(Side("fake", test), Side("ref", test), ctx)
    assert set(out) == {"nll_gen", "nll_gen_test"}
