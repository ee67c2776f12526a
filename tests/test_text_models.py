"""Tests of stablegan.models.text: exact likelihoods (explicit loops, exhaustive enumeration),
sampling distribution, the Gumbel-softmax relaxation, the relational memory's distinct MLP layers,
the RelGAN discriminator's contract and the temperature schedules. Tiny sizes (V <= 50, T <= 7)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chisquare
from torch import Tensor

from stablegan.errors import ConfigError, ShapeError
from stablegan.models.text import (
    EOS_ID,
    TEMPERATURE_KINDS,
    LSTMGenerator,
    RelationalMemoryGenerator,
    RelGANDiscriminator,
    TextGenerator,
    build_text_models,
    gumbel_noise,
    temperature,
)

V, T = 50, 7


def tiny_rmc(vocab: int = V, max_len: int = T, mem_slots: int = 1) -> RelationalMemoryGenerator:
    return RelationalMemoryGenerator(vocab, max_len, embed_dim=6, mem_slots=mem_slots,
                                     num_heads=2, head_size=4)


def tiny_lstm(vocab: int = V, max_len: int = T, std: float | None = None) -> LSTMGenerator:
    if std is None:
        return LSTMGenerator(vocab, max_len, embed_dim=5, hidden_dim=6)
    return LSTMGenerator(vocab, max_len, embed_dim=5, hidden_dim=6, init="normal", init_std=std)


def tiny_d(vocab: int = V, max_len: int = T) -> RelGANDiscriminator:
    return RelGANDiscriminator(vocab, max_len, embed_dim=8, num_rep=4, filter_sizes=(2, 3),
                               num_filters=(5, 6))


def z(n: int) -> Tensor:
    return torch.empty(n, 0)


def manual_lstm_log_probs(g: LSTMGenerator, tokens: Tensor) -> Tensor:
    """log p(x_t | x_<t) from the raw weights, one sentence and one step at a time."""
    out = torch.zeros(tokens.shape, dtype=torch.float64)
    w_ih, w_hh, b = g.w_ih.double(), g.w_hh.double(), g.bias.double()
    w_o, b_o = g.out.weight.double(), g.out.bias.double()
    emb = g.embedding.weight.double()
    for r in range(tokens.shape[0]):
        h = torch.zeros(g.hidden_dim, dtype=torch.float64)
        c = torch.zeros_like(h)
        x = g.start.double()
        for t in range(tokens.shape[1]):
            a = w_ih @ x + w_hh @ h + b
            i, f, cand, o = a.chunk(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(cand)
            h = torch.sigmoid(o) * torch.tanh(c)
            logits = w_o @ h + b_o
            tok = int(tokens[r, t])
            out[r, t] = logits[tok] - torch.logsumexp(logits, 0)
            x = emb[tok]
    return out


def step_loop_log_probs(g: TextGenerator, tokens: Tensor) -> Tensor:
    """log p(x_t | x_<t) through the public ``initial_state``/``step``, one sentence at a time."""
    rows = []
    for r in range(tokens.shape[0]):
        state = g.initial_state(1)
        x = g.start.unsqueeze(0)
        lps = []
        for t in range(tokens.shape[1]):
            logits, state = g.step(x, state)
            tok = tokens[r, t].view(1)
            lps.append(F.log_softmax(logits, -1)[0, tok])
            x = g.embedding(tok)
        rows.append(torch.cat(lps))
    return torch.stack(rows)


@torch.no_grad()
def test_lstm_log_prob_equals_explicit_loop() -> None:
    torch.manual_seed(0)
    g = tiny_lstm(std=0.8)
    tokens = torch.randint(0, V, (6, T))
    ref = manual_lstm_log_probs(g, tokens)
    assert torch.allclose(g.token_log_probs(tokens).double(), ref, atol=1e-5)
    assert torch.allclose(g.log_prob(tokens).double(), ref.sum(1), atol=1e-4)
    assert torch.allclose(g.nll(tokens).double(), -ref.mean(1), atol=1e-5)
    logits = g.teacher_forced_logits(tokens)
    assert logits.shape == (6, T, V)


@torch.no_grad()
def test_rmc_log_prob_equals_step_loop() -> None:
    torch.manual_seed(1)
    g = tiny_rmc(mem_slots=2)
    tokens = torch.randint(0, V, (4, T))
    ref = step_loop_log_probs(g, tokens)
    assert torch.allclose(g.token_log_probs(tokens), ref, atol=1e-5)
    assert torch.allclose(g.log_prob(tokens), ref.sum(1), atol=1e-4)


@pytest.mark.parametrize("make", [lambda: tiny_lstm(3, 3, std=1.5), lambda: tiny_rmc(3, 3)])
@torch.no_grad()
def test_exp_log_prob_sums_to_one_over_all_sequences(make) -> None:
    torch.manual_seed(2)
    g = make().double()
    every = torch.tensor(list(itertools.product(range(3), repeat=3)))  # all 27 sentences
    p = g.log_prob(every).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-10)
    assert float(p.max()) > 2 / 27  # not the uniform distribution: the test is not trivial


@pytest.mark.parametrize("make", [lambda: tiny_lstm(3, 2, std=1.5), lambda: tiny_rmc(3, 2)])
@torch.no_grad()
@pytest.mark.slow
def test_sample_and_forward_follow_exp_log_prob(make) -> None:
    torch.manual_seed(3)
    g = make()
    every = torch.tensor(list(itertools.product(range(3), repeat=2)))  # 9 sentences
    p = g.log_prob(every).double().exp()
    n = 20_000
    expected = (p / p.sum() * n).numpy()

    def counts(tokens: Tensor) -> list[int]:
        idx = tokens[:, 0] * 3 + tokens[:, 1]
        return torch.bincount(idx, minlength=9).tolist()

    sampled = g.sample(n, torch.Generator().manual_seed(10))
    assert sampled.dtype == torch.int64 and sampled.shape == (n, 2)
    assert chisquare(counts(sampled), expected).pvalue > 1e-3
    forward_tokens = g(z(n), generator=torch.Generator().manual_seed(11)).argmax(-1)
    assert chisquare(counts(forward_tokens), expected).pvalue > 1e-3
    # the same noise gives the same tokens: sample() is the hard part of forward()
    same = g(z(500), generator=torch.Generator().manual_seed(12)).argmax(-1)
    assert torch.equal(same, g.sample(500, torch.Generator().manual_seed(12)))


@pytest.mark.parametrize("make", [tiny_lstm, tiny_rmc])
def test_forward_is_differentiable_through_soft_one_hots(make) -> None:
    torch.manual_seed(4)
    g = make()
    o = g(z(8))
    assert o.shape == (8, T, V) and o.requires_grad
    assert torch.allclose(o.sum(-1), torch.ones(8, T), atol=1e-5)
    (o * torch.randn_like(o)).sum().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert g.out.weight.grad.abs().sum() > 0
    assert g.embedding.weight.grad.abs().sum() > 0  # hard tokens feed later steps
    assert g.start.grad.abs().sum() > 0


@torch.no_grad()
def test_beta_controls_how_close_outputs_are_to_one_hot() -> None:
    torch.manual_seed(5)
    g = tiny_rmc()
    g.beta = 1.0
    soft, hard = g.relaxed_sample(64)
    assert soft.max(-1).values.mean() < 0.9
    g.beta = 1e4
    soft, hard = g.relaxed_sample(64)
    assert soft.max(-1).values.min() > 0.999
    assert torch.equal(soft.argmax(-1), hard)
    assert torch.allclose(soft, F.one_hot(hard, V).float(), atol=1e-3)


def test_generator_contract_and_bad_latents() -> None:
    g = tiny_lstm()
    assert g.latent_dim == 0 and g.sample_shape == (T,) and g.output_shape == (T, V)
    assert g.beta == 1.0
    with pytest.raises(ShapeError):
        g(torch.randn(4, 2))
    with pytest.raises(ShapeError):
        g.log_prob(torch.zeros(2, T + 1, dtype=torch.long))
    with pytest.raises(ShapeError):
        g.log_prob(torch.full((2, T), V))
    with pytest.raises(ShapeError):
        g.log_prob(torch.zeros(2, T))  # float ids
    with pytest.raises(ConfigError):
        LSTMGenerator(V, T, init="xavier")
    with pytest.raises(ConfigError):
        LSTMGenerator(0, T)


def test_normal_init_draws_every_parameter() -> None:
    g = LSTMGenerator(V, T, embed_dim=16, hidden_dim=16, init="normal", init_std=2.0)
    flat = torch.cat([p.detach().flatten() for p in g.parameters()])
    assert flat.std().item() == pytest.approx(2.0, rel=0.05)
    for name, p in g.named_parameters():  # biases too
        assert p.detach().std() > 1.0, name
    a, b = (tiny_lstm() for _ in range(2))
    a.init_normal_(1.0, torch.Generator().manual_seed(7))
    b.init_normal_(1.0, torch.Generator().manual_seed(7))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@torch.no_grad()
def test_nll_counts_positions_up_to_first_eos() -> None:
    torch.manual_seed(6)
    g = tiny_lstm()
    tokens = torch.tensor([[5, 6, EOS_ID, 0, 0, 0, 0],
                           [5, EOS_ID, 7, EOS_ID, 9, 0, 0],
                           [5, 6, 7, 8, 9, 10, 11]])  # no EOS: every position
    lp = g.token_log_probs(tokens)
    expect = torch.stack([-lp[0, :3].mean(), -lp[1, :2].mean(), -lp[2].mean()])
    assert torch.allclose(g.nll(tokens, pad_id=0), expect, atol=1e-6)
    assert torch.allclose(g.nll(tokens), -lp.mean(1), atol=1e-6)
    with pytest.raises(ConfigError):
        g.nll(tokens, pad_id=EOS_ID)


def test_relational_memory_has_two_distinct_mlp_layers() -> None:
    g = tiny_rmc()
    core = g.memory
    assert core.mlp1 is not core.mlp2
    assert core.mlp1.weight is not core.mlp2.weight
    assert core.mlp1.weight.data_ptr() != core.mlp2.weight.data_ptr()
    ids = {id(p) for p in g.parameters()}
    assert id(core.mlp1.weight) in ids and id(core.mlp2.weight) in ids
    # named_parameters deduplicates shared tensors: both layers must be listed
    names = dict(g.named_parameters())
    assert "memory.mlp1.weight" in names and "memory.mlp2.weight" in names
    g(z(3)).sum().backward()
    assert not torch.equal(core.mlp1.weight.grad, core.mlp2.weight.grad)


def test_relational_memory_shapes_and_initial_memory() -> None:
    g = tiny_rmc(mem_slots=3)
    assert g.hidden_dim == 3 * 2 * 4 and g.out.in_features == 24
    mem = g.initial_state(2)[0]
    assert mem.shape == (2, 3, 8)
    assert torch.equal(mem[0, :, :3], torch.eye(3)) and not mem[0, :, 3:].any()
    logits, (new,) = g.step(torch.randn(2, 6), (mem,))
    assert logits.shape == (2, V) and new.shape == (2, 3, 8)
    assert g(z(2)).shape == (2, T, V)
    default = RelationalMemoryGenerator(V, T)  # RelGAN sizes: 1 slot, 2 heads of 256
    assert default.hidden_dim == 512


def test_discriminator_shapes_and_inputs() -> None:
    torch.manual_seed(8)
    d = tiny_d().eval()
    tokens = torch.randint(0, V, (5, T))
    exact = F.one_hot(tokens, V).float()
    scores, feats = d.forward_features(exact)
    assert scores.shape == (5, 4) and feats.shape == (5, 4, 11)
    soft = tiny_rmc()(z(5))
    out = d(soft)
    assert out.shape == (5, 4)
    out.sum().backward()  # the generator is trained through D's scores
    x = exact.clone().requires_grad_(True)
    d(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(d(exact), d(exact))  # eval: dropout off
    assert torch.equal(d(tokens), d(exact))  # token ids: the lookup, bit for bit
    for bad in (tokens[:, :-1], tokens + V, torch.full_like(tokens, -1), tokens.float(),
                exact[:, :-1], F.one_hot(tokens, V + 1).float(), exact[0], F.one_hot(tokens, V)):
        with pytest.raises(ShapeError):
            d(bad)


def test_discriminator_sizes_and_impossible_configs() -> None:
    d = RelGANDiscriminator(V, T, filter_sizes=(2, 3), num_filters=(3, 3))  # embed 64, 64 reps
    assert d(torch.rand(2, T, V)).shape == (2, 64)
    assert d.convs[0].kernel_size == (2, 1) and d.convs[0].stride == (1, 1)
    with pytest.raises(ConfigError):
        RelGANDiscriminator(V, T, embed_dim=10, num_rep=4)
    with pytest.raises(ConfigError):
        RelGANDiscriminator(V, 3, embed_dim=8, num_rep=4)  # filter 5 > 3 tokens
    with pytest.raises(ConfigError):
        RelGANDiscriminator(V, T, filter_sizes=(2, 3), num_filters=(3,))
    with pytest.raises(ConfigError):
        RelGANDiscriminator(V, T, dropout=1.0)


def test_build_text_models() -> None:
    g, d = build_text_models(V, T, "relgan", g_embed_dim=6, g_head_size=4, d_embed_dim=8,
                             d_num_rep=4, d_filter_sizes=(2,), d_num_filters=(3,))
    assert isinstance(g, RelationalMemoryGenerator) and g.memory.head_size == 4
    assert d(g(z(2))).shape == (2, 4)
    g, d = build_text_models(V, T, "lstm", g_hidden_dim=7, d_embed_dim=8, d_num_rep=2,
                             d_filter_sizes=(2,), d_num_filters=(3,))
    assert isinstance(g, LSTMGenerator) and g.hidden_dim == 7
    with pytest.raises(ConfigError):
        build_text_models(V, T, "gpt")
    with pytest.raises(ConfigError):
        build_text_models(V, T, "lstm", g_head_size=4)  # an RMC size for the LSTM
    with pytest.raises(ConfigError):
        build_text_models(V, T, "relgan", embed_dim=4)  # no g_/d_ prefix


def test_gumbel_noise_moments() -> None:
    g = gumbel_noise((200_000,), torch.Generator().manual_seed(0))
    assert torch.isfinite(g).all()
    assert g.mean().item() == pytest.approx(0.5772, abs=0.01)  # Euler-Mascheroni
    assert g.var().item() == pytest.approx(math.pi**2 / 6, abs=0.03)
    eps = 1e-10
    for u in (0.0, 1 - 2**-24):  # the extremes of float32 U[0, 1)
        val = -math.log(-math.log(u + eps) + eps)
        assert math.isfinite(val)


CLOSED = {
    "const": lambda i, n, b: b,
    "exp": lambda i, n, b: b ** (i / n),
    "lin": lambda i, n, b: 1 + i / (n - 1) * (b - 1),
    "log": lambda i, n, b: 1 + (b - 1) / math.log(n) * math.log(i + 1),
    "sigmoid": lambda i, n, b: (b - 1) / (1 + math.exp((n / 2 - i) * 20 / n)) + 1,
    "quad": lambda i, n, b: (b - 1) / (n - 1) ** 2 * i**2 + 1,
    "sqrt": lambda i, n, b: (b - 1) / math.sqrt(n - 1) * math.sqrt(i) + 1,
}


@pytest.mark.parametrize("kind", TEMPERATURE_KINDS)
def test_temperature_schedules(kind: str) -> None:
    n, b = 200, 100.0
    values = [temperature(i, n, b, kind) for i in range(n + 1)]
    for i in (0, 1, 17, 100, 150, n - 1):  # RelGAN's steps 0..N-1: the closed forms exactly
        assert values[i] == pytest.approx(CLOSED[kind](i, n, b), rel=1e-12)
    assert all(v2 >= v1 for v1, v2 in zip(values, values[1:]))
    assert max(values) <= b + 1e-9
    if kind in ("exp", "lin", "log", "quad", "sqrt"):
        assert values[0] == 1.0
    if kind in ("lin", "log", "quad", "sqrt"):
        assert values[n - 1] == pytest.approx(b) and values[n] == pytest.approx(b)
    if kind == "exp":
        assert values[n] == pytest.approx(b)
    if kind == "sigmoid":
        assert values[0] == pytest.approx(1.0, abs=1e-2) and values[n // 2] == pytest.approx(
            (1 + b) / 2)
    if kind == "const":
        assert set(values) == {b}
    assert temperature(10 * n, n, b, kind) == values[n]  # clamped past the end
    assert temperature(5, 1, b, kind) <= b  # a one-step schedule is defined


def test_temperature_errors() -> None:
    with pytest.raises(ConfigError):
        temperature(0, 10, 100.0, "cosine")
    with pytest.raises(ConfigError):
        temperature(0, 0, 100.0)
    with pytest.raises(ConfigError):
        temperature(0, 10, 0.0)


# -- issue 18 item 7: the faster computations give the earlier numbers ----------------------------
def per_step_generate(g: TextGenerator, n: int, gen: torch.Generator | None) -> tuple[Tensor,
                                                                                      Tensor]:
    """The earlier generation loop: one Gumbel ``rand`` per token, the start as an expand view."""
    state = g.initial_state(n)
    x = g.start.unsqueeze(0).expand(n, g.embed_dim)
    soft, hard = [], []
    for _ in range(g.max_len):
        logits, state = g.step(x, state)
        y = logits + gumbel_noise(logits.shape, gen)
        hard.append(y.argmax(-1))
        soft.append(F.softmax(g.beta * y, -1))
        x = g.embedding(hard[-1])
    return torch.stack(soft, 1), torch.stack(hard, 1)


@pytest.mark.parametrize("make", [lambda: tiny_lstm(std=1.0), lambda: tiny_rmc(mem_slots=2)])
def test_one_gumbel_rand_gives_the_per_step_samples_bit_for_bit(make, monkeypatch) -> None:
    """All of a generation's noise in one time-major ``rand`` call: the same relaxed one-hots and
    tokens as drawing it token by token, from an explicit generator and from the global RNG, and
    the step-by-step fallback above GUMBEL_BLOCK too (so the oracle's data are unchanged)."""
    import stablegan.models.text as text_models

    torch.manual_seed(20)
    g = make()
    g.beta = 3.0
    ref_soft, ref_hard = per_step_generate(g, 9, torch.Generator().manual_seed(5))
    soft, hard = g.relaxed_sample(9, torch.Generator().manual_seed(5))
    assert torch.equal(soft, ref_soft) and torch.equal(hard, ref_hard)
    assert torch.equal(g.sample(9, torch.Generator().manual_seed(5)), ref_hard)
    torch.manual_seed(6)
    ref_soft, _ = per_step_generate(g, 9, None)
    torch.manual_seed(6)
    assert torch.equal(g(z(9)), ref_soft)
    monkeypatch.setattr(text_models, "GUMBEL_BLOCK", 9 * V * T - 1)  # one draw per token again
    assert torch.equal(g.sample(9, torch.Generator().manual_seed(5)), ref_hard)
    # a wrong layout (batch-major) would give other tokens: the test can fail
    u = gumbel_noise((9, T, V), torch.Generator().manual_seed(5))
    assert not torch.equal(u.transpose(0, 1), gumbel_noise((T, 9, V),
                                                            torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("make", [lambda: tiny_lstm(std=1.0), lambda: tiny_rmc(mem_slots=2)])
def test_batched_log_prob_projection_equals_the_per_step_one(make) -> None:
    """``token_log_probs`` projects and log-softmaxes all positions after the loop: the per-step
    projection of the earlier code to float rounding. Bit for bit on the Intel (AVX-512) machine
    the speed-up was measured on, not on an AMD EPYC one, where the one (B*T, H) product and the
    T (B, H) products take different BLAS blockings (a few ulp); the gradients agree likewise."""
    torch.manual_seed(21)
    g = make()
    tokens = torch.randint(0, V, (12, T))
    ref = step_loop_log_probs(g, tokens)  # one sentence at a time, through g.step

    def per_step(tokens: Tensor) -> Tensor:
        state, x = g.initial_state(tokens.shape[0]), g.start.unsqueeze(0).expand(12, g.embed_dim)
        cols = []
        for t in range(T):
            logits, state = g.step(x, state)
            cols.append(F.log_softmax(logits, -1).gather(1, tokens[:, t:t + 1]).squeeze(1))
            x = g.embedding(tokens[:, t])
        return torch.stack(cols, 1)

    old = per_step(tokens)
    new = g.token_log_probs(tokens)
    assert torch.allclose(new, old, rtol=0.0, atol=2e-6)  # a few ulp of values ~ -4
    assert torch.allclose(new, ref, atol=1e-6)
    assert torch.equal(g.teacher_forced_logits(tokens)[:, 0],
                       g.step(g.start.unsqueeze(0).expand(12, -1), g.initial_state(12))[0])
    grads_old = torch.autograd.grad(old.sum(), list(g.parameters()))
    grads_new = torch.autograd.grad(g.log_prob(tokens).sum(), list(g.parameters()))
    for a, b in zip(grads_old, grads_new):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_discriminator_token_ids_are_the_one_hot_product() -> None:
    """Token ids through the embedding lookup: scores and features bit for bit those of their
    one-hots through the linear map; W_e's gradient the same sums in another order (rel 1e-6)."""
    torch.manual_seed(22)
    d = tiny_d().eval()
    tokens = torch.randint(0, V, (16, T))
    onehot = F.one_hot(tokens, V).float()
    s_ids, f_ids = d.forward_features(tokens)
    s_hot, f_hot = d.forward_features(onehot)
    assert torch.equal(s_ids, s_hot) and torch.equal(f_ids, f_hot)
    assert torch.equal(d.embed_input(tokens), onehot @ d.embed.weight.t())
    g_ids = torch.autograd.grad(s_ids.square().sum(), list(d.parameters()))
    g_hot = torch.autograd.grad(d(onehot).square().sum(), list(d.parameters()))
    for a, b in zip(g_ids, g_hot):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("embed,reps", [(8, 4), (8, 8), (6, 2)])
def test_discriminator_unfold_addmm_equals_conv2d(embed: int, reps: int) -> None:
    """The convolutions as unfold + addmm give Conv2d's numbers within float rounding (atol 1e-5
    on O(1) features), for representation widths w = 2, 1 and 3, values and gradients."""
    torch.manual_seed(23)
    d = RelGANDiscriminator(V, T, embed_dim=embed, num_rep=reps, filter_sizes=(2, 3, 5),
                            num_filters=(4, 5, 3))
    e = torch.randn(6, T, embed, requires_grad=True)
    new = d.conv_features(e)
    ref = torch.cat([F.relu(conv(e.unsqueeze(1))).amax(dim=2) for conv in d.convs],
                    dim=1).transpose(1, 2)
    assert new.shape == ref.shape == (6, reps, 12)
    assert torch.allclose(new, ref, atol=1e-5, rtol=0)
    w = torch.randn_like(ref)
    g_new = torch.autograd.grad((new * w).sum(), [e, *d.parameters()], allow_unused=True)
    g_ref = torch.autograd.grad((ref * w).sum(), [e, *d.parameters()], allow_unused=True)
    for a, b in zip(g_new, g_ref):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-5, rtol=0)
    # a wrong window layout (width-major) is caught
    bad = e.detach().unfold(1, 2, 1).reshape(6, T - 1, reps, embed // reps, 2).reshape(-1, 2 *
                                                                                      embed // reps)
    if embed // reps > 1:
        out = torch.addmm(d.convs[0].bias, bad, d.convs[0].weight.reshape(4, -1).t())
        assert not torch.allclose(F.relu(out.view(6, T - 1, reps, 4)).amax(1), ref[..., :4],
                                  atol=1e-3)


@torch.no_grad()
def test_faster_text_paths_are_bit_identical_at_the_oracle_size() -> None:
    """The oracle's own sizes (V 5,000, T 20, the N(0, 1) LSTM of 32 units; batch 64): batched
    log_prob projection and one-call Gumbel sampling give the per-step numbers bit for bit (the
    BLAS kernels for 64 and 64 x 20 rows could in principle sum differently; they do not)."""
    torch.manual_seed(24)
    g = LSTMGenerator(5000, 20, 32, 32, init="normal")
    tokens = torch.randint(0, 5000, (64, 20))
    state, x = g.initial_state(64), g.start.unsqueeze(0).expand(64, 32)
    cols = []
    for t in range(20):
        logits, state = g.step(x, state)
        cols.append(F.log_softmax(logits, -1).gather(1, tokens[:, t:t + 1]).squeeze(1))
        x = g.embedding(tokens[:, t])
    assert torch.equal(g.token_log_probs(tokens), torch.stack(cols, 1))
    assert torch.equal(g.sample(64, torch.Generator().manual_seed(9)),
                       per_step_generate(g, 64, torch.Generator().manual_seed(9))[1])
