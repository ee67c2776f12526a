"""The exact probability ratio for generators with a tractable likelihood (ratio=exact)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stablegan import Trainer
from stablegan.methods import ExactRatio, PPOGANMethod

K = 6


class CategoricalGenerator(nn.Module):
    """An explicit generator over K tokens, samples as one-hot vectors."""

    latent_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(K))

    def sample(self, n: int) -> torch.Tensor:
        idx = torch.distributions.Categorical(logits=self.logits).sample((n,))
        return F.one_hot(idx, K).float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return (x * torch.log_softmax(self.logits, 0)).sum(1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.sample(z.shape[0])


def _data(n: int = 512) -> torch.Tensor:
    torch.manual_seed(0)
    idx = torch.where(torch.rand(n) < 0.8, torch.zeros(n, dtype=torch.long),
                      torch.randint(1, K, (n,)))
    return F.one_hot(idx, K).float()


def _trainer(steps: int) -> Trainer:
    D = nn.Sequential(nn.Linear(K, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    cfg = {"method": "ppo-gan", "steps": steps, "data": {"batch_size": 64},
           "variational": {"ratio": "exact", "reweight": False},
           "lipschitz": {"gradient_penalty": {"weight": 1.0}},
           "optim": {"g_lr": 0.05, "d_lr": 1e-3},
           "log": {"progress": False, "every": 1}}
    return Trainer(CategoricalGenerator(), D, _data(), cfg)


def test_exact_ratio_is_one_before_the_generator_moves():
    torch.manual_seed(1)
    trainer = _trainer(1)
    m = trainer.method
    assert isinstance(m, PPOGANMethod) and isinstance(m.ratio, ExactRatio)
    assert "C" not in m.networks  # no classifier is needed
    z = m.sample_z(64)
    m.ratio.begin_phase(z)
    log_r = m.ratio.log_ratio(m.ratio.samples(z))
    assert torch.equal(log_r, torch.zeros_like(log_r))
    stats = m.g_step(z)
    assert stats["ratio/mean"] == 1.0 and stats["ratio/approx_kl"] == 0.0
    # after the step the same samples have a new likelihood: r moves away from 1
    assert not torch.allclose(m.ratio.log_ratio(m.ratio.samples(z)), torch.zeros(64))


@pytest.mark.slow
def test_exact_ratio_moves_the_generator_towards_the_data():
    torch.manual_seed(2)
    trainer = _trainer(60)
    G = trainer.method.G
    before = torch.softmax(G.logits.detach(), 0)[0].item()
    trainer.fit()
    after = torch.softmax(G.logits.detach(), 0)[0].item()
    assert abs(before - 1.0 / K) < 1e-6
    assert after > 0.4, after  # the data puts 0.8 + 0.2/6 on token 0
