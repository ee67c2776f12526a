"""The text iteration's computations before issue 18 item 7, kept to time and test against.

The same modules (the project's generator and discriminator, the same parameters), computed the
earlier way:

* real batches as float one-hots (B, T, V) through D's bias-free linear map;
* D's convolutions as ``Conv2d`` on the (B, 1, T, E) embedding;
* D's (and C's) parameters left trainable during the generator step;
* Gumbel noise drawn with one ``rand`` call per generated token;
* ``log_prob`` projecting to the vocabulary and taking the log-softmax at every step of the
  teacher-forced loop;
* the start embedding as an ``expand`` view.

:func:`install` switches one built method (``Trainer.method``) to these computations in place, so
``benchmarks/text_speed.py`` can time the previous and the current code in one process, and the
tests can check that both give the same numbers.
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from stablegan.models.text import RelGANDiscriminator, TextGenerator, gumbel_noise


def generate(g: TextGenerator, n: int, generator: torch.Generator | None,
             relaxed: bool) -> tuple[Tensor | None, Tensor]:
    """The earlier ``TextGenerator._generate``: Gumbel noise drawn step by step."""
    state = g.initial_state(n)
    x = g.start.unsqueeze(0).expand(n, g.embed_dim)
    soft: list[Tensor] = []
    hard: list[Tensor] = []
    beta = float(g.beta)
    for _ in range(g.max_len):
        logits, state = g.step(x, state)
        y = logits + gumbel_noise(logits.shape, generator, logits.device, logits.dtype)
        tok = y.argmax(dim=-1)
        if relaxed:
            soft.append(F.softmax(beta * y, dim=-1))
        hard.append(tok)
        x = g.embedding(tok)
    return (torch.stack(soft, dim=1) if relaxed else None), torch.stack(hard, dim=1)


def token_log_probs(g: TextGenerator, tokens: Tensor) -> Tensor:
    """The earlier ``token_log_probs``: logits and log-softmax inside the loop."""
    tokens = g.check_tokens(tokens)
    n = tokens.shape[0]
    state = g.initial_state(n)
    x = g.start.unsqueeze(0).expand(n, g.embed_dim)
    emb = g.embedding(tokens)
    steps: list[Tensor] = []
    for t in range(g.max_len):
        logits, state = g.step(x, state)
        steps.append(logits)
        x = emb[:, t]
    return torch.stack(
        [F.log_softmax(lg, dim=-1).gather(1, tokens[:, t: t + 1]).squeeze(1)
         for t, lg in enumerate(steps)], dim=1)


def d_forward_features(d: RelGANDiscriminator, x: Tensor) -> tuple[Tensor, Tensor]:
    """The earlier ``RelGANDiscriminator.forward_features``: one-hots (token ids are turned into
    them first) through the linear map, ``Conv2d`` for the convolutions."""
    if not x.dtype.is_floating_point:
        x = F.one_hot(x.long(), d.vocab_size).to(torch.float32)
    d.check_input(x)
    e = d.embed(x).unsqueeze(1)  # (B, 1, T, E)
    pooled = [F.relu(conv(e)).amax(dim=2) for conv in d.convs]  # (B, n_f, num_rep)
    h = torch.cat(pooled, dim=1).transpose(1, 2)  # (B, num_rep, F)
    t = torch.sigmoid(d.highway_gate(h))
    h = t * F.relu(d.highway(h)) + (1.0 - t) * h
    scores = d.logit(d.fc(d.dropout(h))).squeeze(-1)
    return scores, h


def _d_forward(d: RelGANDiscriminator, x: Tensor) -> Tensor:
    return d_forward_features(d, x)[0]


def install(method: Any) -> None:
    """Switch ``method`` (its G, its D, C when it has one, its task's real batches and the
    generator step's freezing) to the earlier computations, in place."""
    g = method.G
    g._generate = types.MethodType(generate, g)
    g.token_log_probs = types.MethodType(token_log_probs, g)
    for d in _discriminators(method):
        d.forward_features = types.MethodType(d_forward_features, d)
        d.forward = types.MethodType(_d_forward, d)
    task = method.task
    task.real_batch = lambda n: task.critic_view(task.data.sample(n))
    method.freeze_critics = False


def _discriminators(method: Any) -> list[RelGANDiscriminator]:
    found = []
    for net in method.networks.values():
        found += [m for m in net.modules() if isinstance(m, RelGANDiscriminator)]
    return found
