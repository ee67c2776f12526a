"""Text GAN models: autoregressive generators with a Gumbel-softmax relaxation (RelGAN, Nie et al.
2019) and the RelGAN multi-representation CNN discriminator.

Conventions. A sentence is a LongTensor row of ``max_len`` token ids in ``[0, V)``. Generators have
``latent_dim = 0``: ``forward(z)`` only reads the batch size ``B = z.shape[0]`` of ``z`` (B, 0);
all randomness is Gumbel noise from torch's global RNG or from an explicit ``torch.Generator``.

Generation. A recurrent state ``s_0`` (zeros for the LSTM, the identity-padded memory for the
relational memory) and a learned start embedding ``e_start`` (there is no BOS token in the output
vocabulary) begin every sentence. For ``t = 1..T``::

    logits_t, s_t = step(x_{t-1}, s_{t-1})        x_0 = e_start
    g_t = logits_t + G_t,  G_t ~ Gumbel(0, 1)^V
    y_t = argmax_v g_t                            (hard token; exact sample of softmax(logits_t))
    o_t = softmax(beta * g_t)                     (relaxed one-hot the discriminator sees)
    x_t = E[y_t]                                  (the *hard* token is embedded and fed back)

``beta`` (attribute, default 1.0) is the inverse temperature; ``beta -> inf`` makes ``o_t`` the
exact one-hot of ``y_t`` and ``argmax_v o_t = y_t`` always (up to float ties). Gradients reach the
generator only through ``o_t`` (the feedback ``x_t`` is a hard embedding lookup), as in RelGAN.

Gumbel noise: ``u ~ U[0, 1)`` (float32 has ``u <= 1 - 2^-24``) and
``G = -log(-log(u + eps) + eps)`` with ``eps = 1e-10`` (RelGAN's ``add_gumbel``); both logs stay
finite, so ``G`` lies in about ``[-3.14, 16.6]``, a truncation of probability ~1e-7 per draw.

Likelihood. The teacher-forced ``log p(x) = sum_t log softmax(logits_t)[x_t]`` with ``logits_t``
computed from the true prefix ``x_<t`` (``x_0 = e_start``) is the exact log-probability of the
sentence under ancestral sampling (``sample``), so ``exp(log_prob)`` sums to one over all ``V^T``
sentences.

Models.

* :class:`LSTMGenerator`: ``embedding -> LSTM cell -> linear`` with one bias per gate (as the
  SeqGAN/RelGAN oracle ``target_lstm``)::

      [i, f, c~, o] = [sigma, sigma, tanh, sigma](W_ih x + W_hh h + b),
      c' = f * c + i * c~,  h' = o * tanh(c'),  logits = W_out h' + b_out.

  ``init="normal"`` draws every parameter (embeddings, start embedding, LSTM, output layer) from
  ``N(0, init_std^2)``: the synthetic-data oracle of SeqGAN (Yu et al. 2017) and RelGAN.
* :class:`RelationalMemoryGenerator`: the relational memory core (Santoro et al. 2018) as in
  RelGAN; see the class docstring for the equations.
* :class:`RelGANDiscriminator`: see the class docstring. Scores are (B, num_rep): one per
  representation; losses average over both axes (RelGAN applies its loss to the flattened
  ``B * num_rep`` logits).

:func:`temperature` is RelGAN's inverse-temperature schedule for ``beta``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.errors import ConfigError, ShapeError
from stablegan.models.layers import Generator

GUMBEL_EPS = 1e-10
#: most Gumbel draws (max_len * n * V) a generation takes in one ``rand`` call (128 MiB of fp32)
GUMBEL_BLOCK = 2**25
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3  # corpus vocabularies (the oracle has no specials)
TEMPERATURE_KINDS = ("exp", "lin", "sigmoid", "const", "log", "quad", "sqrt")
TEXT_MODELS = ("relgan", "lstm")

State = tuple[Tensor, ...]

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "GUMBEL_EPS",
    "PAD_ID",
    "TEMPERATURE_KINDS",
    "TEXT_MODELS",
    "UNK_ID",
    "LSTMGenerator",
    "RelGANDiscriminator",
    "RelationalMemoryGenerator",
    "TextGenerator",
    "build_text_models",
    "gumbel_noise",
    "temperature",
]


def gumbel_noise(
    shape: Sequence[int] | torch.Size,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    eps: float = GUMBEL_EPS,
) -> Tensor:
    """Standard Gumbel noise ``-log(-log(u + eps) + eps)``, ``u ~ U[0, 1)`` from ``generator``
    (torch's global RNG when None)."""
    u = torch.rand(tuple(shape), generator=generator, device=device, dtype=dtype)
    return u.add_(eps).log_().neg_().add_(eps).log_().neg_()  # in place: ~3x faster on CPU


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}",
                          hint=f"set {what} to an integer >= 1")
    return value


class TextGenerator(Generator):
    """Base class of the autoregressive text generators (contract in the module docstring).

    Subclasses implement ``initial_state(n)`` and ``hidden_step(x (n, embed_dim), state) -> (h (n,
    H), state)`` and own ``self.out`` (Linear H -> V); ``step`` gives ``(self.out(h), state)``.
    Everything else (relaxed generation, sampling, likelihoods) is shared.

    ``sample_shape = (max_len,)`` is the shape of a sentence of token ids (the data's shape);
    ``forward`` returns relaxed one-hots of shape (B, *output_shape) = (B, max_len, V).
    """

    out: nn.Linear  # the vocabulary projection H -> V (each subclass builds it)

    def __init__(self, vocab_size: int, max_len: int, embed_dim: int) -> None:
        super().__init__()
        self.vocab_size = _positive_int(vocab_size, "vocab_size")
        self.max_len = _positive_int(max_len, "max_len")
        self.embed_dim = _positive_int(embed_dim, "embed_dim")
        self.latent_dim = 0
        self.sample_shape = (self.max_len,)
        self.output_shape = (self.max_len, self.vocab_size)
        self.beta = 1.0
        self.embedding = nn.Embedding(self.vocab_size, self.embed_dim)
        self.start = nn.Parameter(torch.randn(self.embed_dim))  # N(0, 1) like an embedding row

    # -- recurrence (subclasses) -------------------------------------------------------------
    @abstractmethod
    def initial_state(self, n: int) -> State:
        """The recurrent state before the first token, for a batch of ``n``."""

    @abstractmethod
    def hidden_step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One step of the recurrence: input embeddings (n, embed_dim), state -> the hidden
        output (n, H) that ``self.out`` (a Linear H -> V) maps to the logits, state."""

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One step: input embeddings (n, embed_dim), state -> next-token logits (n, V), state."""
        h, state = self.hidden_step(x, state)
        return self.out(h), state

    # -- generation ----------------------------------------------------------------------------
    def _start(self, n: int) -> Tensor:
        """The start embedding repeated for ``n`` rows (a copy, not an ``expand`` view: under
        ``no_grad`` a view of a parameter is a grad-requiring leaf with no grad_fn, which breaks
        ``torch.utils.flop_counter.FlopCounterMode``'s module hooks; same numbers)."""
        return self.start.unsqueeze(0).repeat(n, 1)

    def _gumbel_steps(
        self, n: int, generator: torch.Generator | None, like: Tensor
    ) -> Tensor | None:
        """All of a generation's Gumbel noise, (max_len, n, V), from one ``rand`` call; None when
        it would exceed :data:`GUMBEL_BLOCK` elements (the loop then draws it step by step).
        Time-major, so on CPU it is the concatenation of the per-step draws of the same RNG:
        the same numbers either way (tested). On CUDA (Philox offsets per call) it is the same
        distribution from another position of the stream."""
        if self.max_len * n * self.vocab_size > GUMBEL_BLOCK:
            return None
        return gumbel_noise((self.max_len, n, self.vocab_size), generator, like.device,
                            like.dtype)

    def _generate(
        self, n: int, generator: torch.Generator | None, relaxed: bool
    ) -> tuple[Tensor | None, Tensor]:
        """The generation loop; the relaxed one-hots only when ``relaxed``."""
        state = self.initial_state(n)
        x = self._start(n)
        noise = self._gumbel_steps(n, generator, x)
        soft: list[Tensor] = []
        hard: list[Tensor] = []
        beta = float(self.beta)
        for t in range(self.max_len):
            logits, state = self.step(x, state)
            g = logits + (noise[t] if noise is not None else
                          gumbel_noise(logits.shape, generator, logits.device, logits.dtype))
            tok = g.argmax(dim=-1)
            if relaxed:
                soft.append(F.softmax(beta * g, dim=-1))
            hard.append(tok)
            x = self.embedding(tok)
        return (torch.stack(soft, dim=1) if relaxed else None), torch.stack(hard, dim=1)

    def relaxed_sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(o, y)``: relaxed one-hots ``softmax(beta * g_t)`` (n, max_len, V), differentiable in
        the parameters, and the hard tokens ``argmax g_t`` (n, max_len) int64."""
        soft, hard = self._generate(int(n), generator, relaxed=True)
        assert soft is not None
        return soft, hard

    def generate(self, z: Tensor) -> Tensor:
        """Relaxed one-hots (B, max_len, V) for ``B = z.shape[0]`` (global RNG)."""
        return self.relaxed_sample(int(z.shape[0]))[0]

    def forward(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Relaxed one-hots (B, max_len, V); ``z`` (B, 0) only gives the batch size."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(
                f"text generator expects latents of shape (B, 0), got {tuple(z.shape)}",
                hint="pass torch.empty(batch, 0); randomness is Gumbel noise, not z",
            )
        return self.relaxed_sample(int(z.shape[0]), generator)[0]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` sentences (n, max_len) int64 by ancestral sampling (argmax of logits + Gumbel, an
        exact categorical draw per step). With the same ``generator`` state it returns exactly the
        hard tokens of ``relaxed_sample``/``forward``."""
        if n < 0:
            raise ConfigError(f"cannot sample {n} sentences", hint="ask for n >= 0")
        return self._generate(int(n), generator, relaxed=False)[1]

    # -- likelihood ----------------------------------------------------------------------------
    def check_tokens(self, tokens: Tensor) -> Tensor:
        """``tokens`` as int64 (n, max_len) with ids in [0, V); ShapeError otherwise."""
        if (
            not isinstance(tokens, Tensor)
            or tokens.dim() != 2
            or tokens.shape[1] != self.max_len
            or tokens.dtype.is_floating_point
            or tokens.dtype.is_complex
        ):
            got = tuple(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
            dtype = tokens.dtype if isinstance(tokens, Tensor) else None
            raise ShapeError(
                f"expected token ids of shape (n, {self.max_len}) (integer), got {got} {dtype}",
                hint="pass a LongTensor of sentences padded/truncated to max_len",
            )
        tokens = tokens.long()
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise ShapeError(
                f"token ids must lie in [0, {self.vocab_size}), got range "
                f"[{int(tokens.min())}, {int(tokens.max())}]",
                hint="the data's vocabulary must match the generator's vocab_size",
            )
        return tokens

    def _teacher_forced_hidden(self, tokens: Tensor) -> Tensor:
        """The hidden states (n, max_len, H) of the recurrence with the true prefix fed back;
        ``tokens`` already checked."""
        n = tokens.shape[0]
        state = self.initial_state(n)
        x = self._start(n)
        emb = self.embedding(tokens)
        out: list[Tensor] = []
        for t in range(self.max_len):
            h, state = self.hidden_step(x, state)
            out.append(h)
            x = emb[:, t]
        return torch.stack(out, dim=1)

    def teacher_forced_logits(self, tokens: Tensor) -> Tensor:
        """Logits (n, max_len, V) of ``p(x_t | x_<t)`` (memory O(n T V)): the recurrence in a
        loop, then one output projection of all positions."""
        return self.out(self._teacher_forced_hidden(self.check_tokens(tokens)))

    def token_log_probs(self, tokens: Tensor) -> Tensor:
        """Teacher-forced ``log p(x_t | x_<t)`` per position, (n, max_len). The vocabulary
        projection and log-softmax run once on all positions after the loop (the per-step
        projection gives the same numbers, tested)."""
        tokens = self.check_tokens(tokens)
        logits = self.out(self._teacher_forced_hidden(tokens))
        return F.log_softmax(logits, dim=-1).gather(2, tokens.unsqueeze(2)).squeeze(2)

    def log_prob(self, tokens: Tensor) -> Tensor:
        """Exact sequence log-likelihood ``log p(x) = sum_t log p(x_t | x_<t)``, (n,)."""
        return self.token_log_probs(tokens).sum(dim=1)

    def nll(self, tokens: Tensor, pad_id: int | None = None, eos_id: int = EOS_ID) -> Tensor:
        """Per-token negative log-likelihood (n,).

        ``pad_id=None`` (TextGAN/SeqGAN convention, the oracle): the mean of ``-log p(x_t | x_<t)``
        over all ``max_len`` positions. ``pad_id`` given (corpora, PAD=0 and EOS=2): the mean over
        positions up to and including the first ``eos_id`` of each row (all positions when a row
        has no EOS); what follows the first EOS is padding whatever its ids (generated rows need
        not hold ``pad_id`` there), so only the EOS position defines the mask.
        """
        lp = self.token_log_probs(tokens)
        if pad_id is None:
            return -lp.mean(dim=1)
        if pad_id == eos_id:
            raise ConfigError(f"pad_id and eos_id are both {pad_id}",
                              hint="use the corpus ids PAD=0, EOS=2")
        mask = self.eos_mask(tokens, eos_id).to(lp.dtype)
        return -(lp * mask).sum(dim=1) / mask.sum(dim=1)

    @staticmethod
    def eos_mask(tokens: Tensor, eos_id: int = EOS_ID) -> Tensor:
        """Bool (n, T): positions up to and including the first ``eos_id`` (all without one)."""
        is_eos = tokens == eos_id
        before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()  # EOS strictly before t
        return before == 0


class LSTMGenerator(TextGenerator):
    """Single-layer LSTM language model ``embedding -> LSTM cell -> linear to V`` (equations in
    the module docstring).

    ``init="default"``: embeddings and start embedding N(0, 1), LSTM weights and biases
    U(-1/sqrt(H), 1/sqrt(H)) (torch's LSTM default), output layer torch's Linear default.
    ``init="normal"``: every parameter N(0, init_std^2) (the SeqGAN/RelGAN oracle); draw them from
    a specific ``torch.Generator`` with :meth:`init_normal_`.
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        embed_dim: int = 32,
        hidden_dim: int = 32,
        init: str = "default",
        init_std: float = 1.0,
    ) -> None:
        super().__init__(vocab_size, max_len, embed_dim)
        self.hidden_dim = _positive_int(hidden_dim, "hidden_dim")
        h = self.hidden_dim
        self.w_ih = nn.Parameter(torch.empty(4 * h, self.embed_dim))
        self.w_hh = nn.Parameter(torch.empty(4 * h, h))
        self.bias = nn.Parameter(torch.empty(4 * h))  # one bias per gate, as target_lstm
        self.out = nn.Linear(h, self.vocab_size)
        bound = 1.0 / math.sqrt(h)
        for p in (self.w_ih, self.w_hh, self.bias):
            nn.init.uniform_(p, -bound, bound)
        if init == "normal":
            if not (isinstance(init_std, (int, float)) and math.isfinite(init_std)
                    and init_std > 0):
                raise ConfigError(f"init_std must be a positive number, got {init_std!r}",
                                  hint="the SeqGAN/RelGAN oracle uses init_std=1.0")
            self.init_normal_(float(init_std))
        elif init != "default":
            raise ConfigError(f"unknown LSTM initialisation '{init}'",
                              hint="use init='default' or init='normal'")
        self.init = init
        self.init_std = float(init_std)

    @torch.no_grad()
    def init_normal_(self, std: float = 1.0, generator: torch.Generator | None = None) -> None:
        """Redraw every parameter from N(0, std^2), in ``named_parameters`` order, from
        ``generator`` (global RNG when None)."""
        for _, p in self.named_parameters():
            p.normal_(0.0, std, generator=generator)

    def initial_state(self, n: int) -> State:
        """``(h, c)`` zeros (n, hidden_dim)."""
        z = self.w_hh.new_zeros(n, self.hidden_dim)
        return z, z

    def hidden_step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One LSTM step: the new hidden state ``h`` (the output) and ``(h, c)``."""
        h, c = state
        gates = F.linear(x, self.w_ih, self.bias) + F.linear(h, self.w_hh)
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class RelationalMemory(nn.Module):
    """The relational memory core (Santoro et al. 2018) with ``mem_slots`` slots of size
    ``M = num_heads * head_size``, one attention block, two MLP layers and unit gating.

    With memory ``m`` (n, N, M) and projected input ``u = W_u x + b_u`` (n, M)::

        z = [m; u]                                       (n, N+1, M)
        q, k, v = split_heads(LN_qkv(W_qkv z))            key = value size = head_size
        a = softmax(q k^T / sqrt(2 key + value)) v        per head, concatenated
        z = LN_1(z + a)
        z = LN_2(z + W_2 relu(W_1 z + b_1) + b_2)         W_1, W_2: two distinct layers
        m~ = z[:, :N]
        [i, f] = W_gu u + W_gm tanh(m) + b_g              (n, N, 2M)
        m' = sigmoid(i + 0) * tanh(m~) + sigmoid(f + 1) * m

    and the output is ``m'`` flattened (n, N*M). The initial memory is the N x N identity padded
    (or truncated) to M columns. This is DeepMind sonnet's ``RelationalMemory`` (per-slot layer
    norms over the last axis, linears with biases, ``(2 key + value)^-1/2`` query scaling,
    constant gate biases 0 and 1, no activation after the last MLP layer), which RelGAN
    re-implements; RelGAN's TensorFlow port normalises jointly over slots and features and drops
    the qkv/gate biases. TextGAN-PyTorch's ``relational_rnn_general.py`` builds its attention MLP
    as ``[nn.Linear(M, M)] * 2``, the *same* layer twice (shared weights); here ``mlp1`` and
    ``mlp2`` are distinct layers.
    """

    def __init__(self, input_size: int, mem_slots: int, num_heads: int, head_size: int) -> None:
        super().__init__()
        self.mem_slots = _positive_int(mem_slots, "mem_slots")
        self.num_heads = _positive_int(num_heads, "num_heads")
        self.head_size = _positive_int(head_size, "head_size")
        self.mem_size = self.num_heads * self.head_size
        m = self.mem_size
        self.qkv_size = 3 * self.head_size  # 2 * key_size + value_size
        self.input_proj = nn.Linear(input_size, m)
        self.qkv = nn.Linear(m, self.num_heads * self.qkv_size)
        self.qkv_norm = nn.LayerNorm(self.num_heads * self.qkv_size)
        self.attn_norm = nn.LayerNorm(m)
        self.mlp1 = nn.Linear(m, m)
        self.mlp2 = nn.Linear(m, m)
        self.mlp_norm = nn.LayerNorm(m)
        self.gate_input = nn.Linear(m, 2 * m)
        self.gate_memory = nn.Linear(m, 2 * m)
        self.input_bias = 0.0
        self.forget_bias = 1.0
        eye = torch.eye(self.mem_slots)
        if m > self.mem_slots:
            init = torch.cat([eye, torch.zeros(self.mem_slots, m - self.mem_slots)], dim=1)
        else:
            init = eye[:, :m]
        self.register_buffer("init_memory", init.contiguous(), persistent=False)

    @property
    def output_size(self) -> int:
        return self.mem_slots * self.mem_size

    def initial_state(self, n: int) -> Tensor:
        """The identity-padded memory (n, mem_slots, mem_size)."""
        return self.init_memory.unsqueeze(0).expand(n, -1, -1)

    def attend(self, z: Tensor) -> Tensor:
        """Multi-head self-attention over the slots of ``z`` (n, S, M) -> (n, S, M)."""
        n, s, _ = z.shape
        qkv = self.qkv_norm(self.qkv(z)).view(n, s, self.num_heads, self.qkv_size)
        q, k, v = qkv.transpose(1, 2).split(self.head_size, dim=-1)  # (n, H, S, d) each
        w = torch.softmax((q * self.qkv_size**-0.5) @ k.transpose(-1, -2), dim=-1)
        return (w @ v).transpose(1, 2).reshape(n, s, self.mem_size)

    def forward(self, x: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """One step: input (n, input_size) and memory (n, N, M) -> output (n, N*M), memory."""
        u = self.input_proj(x).unsqueeze(1)  # (n, 1, M)
        z = torch.cat([memory, u], dim=1)
        z = self.attn_norm(z + self.attend(z))
        z = self.mlp_norm(z + self.mlp2(F.relu(self.mlp1(z))))
        candidate = z[:, : self.mem_slots]
        gates = self.gate_input(u) + self.gate_memory(torch.tanh(memory))
        i, f = gates.chunk(2, dim=-1)
        new = (torch.sigmoid(i + self.input_bias) * torch.tanh(candidate)
               + torch.sigmoid(f + self.forget_bias) * memory)
        return new.reshape(new.shape[0], -1), new


class RelationalMemoryGenerator(TextGenerator):
    """RelGAN's generator: ``embedding -> relational memory -> linear`` from the memory output
    (hidden size ``mem_slots * num_heads * head_size``) to V. Equations of the core in
    :class:`RelationalMemory`; parameters use torch's default initialisations."""

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        embed_dim: int = 32,
        mem_slots: int = 1,
        num_heads: int = 2,
        head_size: int = 256,
    ) -> None:
        super().__init__(vocab_size, max_len, embed_dim)
        self.memory = RelationalMemory(self.embed_dim, mem_slots, num_heads, head_size)
        self.hidden_dim = self.memory.output_size
        self.out = nn.Linear(self.hidden_dim, self.vocab_size)

    def initial_state(self, n: int) -> State:
        """``(memory,)`` (n, mem_slots, mem_size)."""
        return (self.memory.initial_state(n),)

    def hidden_step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One memory step: the flattened memory output and ``(memory,)``."""
        h, memory = self.memory(x, state[0])
        return h, (memory,)


class RelGANDiscriminator(nn.Module):
    """RelGAN's CNN discriminator with ``num_rep`` representations.

    ``x`` (B, T, V) relaxed or exact one-hots -> ``e = x W_e`` (bias-free linear V -> embed_dim,
    the one-hot equivalent of an embedding lookup) viewed as one (T, embed_dim) channel; token
    ids (B, T) (real sentences) take the lookup itself, the same numbers. For each
    filter size ``f`` a Conv2d with kernel ``(f, w)`` and stride ``(1, w)``, ``w = embed_dim //
    num_rep``, gives ``num_rep`` column blocks (representations, sharing the filters); ReLU; max
    over time. Concatenating the filters gives ``h_r`` (F = sum(num_filters)) per representation;
    then, with weights shared across representations,

        t = sigmoid(W_t h_r + b_t),  h_r = t * relu(W_h h_r + b_h) + (1 - t) * h_r   (highway)
        score_r = w_2 . (W_1 dropout(h_r) + b_1) + b_2                             (F -> 100 -> 1)

    ``forward`` returns the scores (B, num_rep); losses average over batch and representations
    (RelGAN's loss acts on the flattened ``B * num_rep`` logits). As in RelGAN's code the highway
    has distinct transform and gate layers (TextGAN-PyTorch uses one layer for both) and there is
    no nonlinearity between the 100-unit layer and the output.
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        embed_dim: int = 64,
        num_rep: int = 64,
        filter_sizes: Sequence[int] = (2, 3, 4, 5),
        num_filters: Sequence[int] = (300, 300, 300, 300),
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        self.scores_per_sample = num_rep  # forward returns (B, num_rep)
        self.vocab_size = _positive_int(vocab_size, "vocab_size")
        self.max_len = _positive_int(max_len, "max_len")
        self.embed_dim = _positive_int(embed_dim, "embed_dim")
        self.num_rep = _positive_int(num_rep, "num_rep")
        filter_sizes, num_filters = tuple(filter_sizes), tuple(num_filters)
        if self.embed_dim % self.num_rep:
            raise ConfigError(
                f"embed_dim {embed_dim} is not a multiple of num_rep {num_rep}",
                hint="RelGAN uses embed_dim=64, num_rep=64 (each representation 1 column wide)",
            )
        if not filter_sizes or len(filter_sizes) != len(num_filters):
            raise ConfigError(
                f"need one filter count per filter size, got sizes {filter_sizes} and counts "
                f"{num_filters}",
                hint="for example filter_sizes=(2, 3), num_filters=(300, 300)",
            )
        for f in (*filter_sizes, *num_filters):
            _positive_int(f, "each filter size and count")
        if max(filter_sizes) > self.max_len:
            raise ConfigError(
                f"filter size {max(filter_sizes)} is longer than the sentences ({max_len} tokens)",
                hint="use filter sizes <= max_len",
            )
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}",
                              hint="RelGAN uses 0.25")
        self.sample_shape = (self.max_len, self.vocab_size)
        self.width = self.embed_dim // self.num_rep
        self.feature_dim = sum(num_filters)
        self.embed = nn.Linear(self.vocab_size, self.embed_dim, bias=False)
        self.convs = nn.ModuleList(
            nn.Conv2d(1, n, (f, self.width), stride=(1, self.width))
            for f, n in zip(filter_sizes, num_filters)
        )
        self.highway = nn.Linear(self.feature_dim, self.feature_dim)
        self.highway_gate = nn.Linear(self.feature_dim, self.feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_dim, 100)
        self.logit = nn.Linear(100, 1)

    def check_input(self, x: Tensor) -> None:
        """ShapeError unless ``x`` is a float (B, max_len, V) batch of (relaxed) one-hots or an
        integer (B, max_len) batch of token ids in [0, V)."""
        if isinstance(x, Tensor) and x.dim() == 2 and not x.dtype.is_floating_point \
                and not x.dtype.is_complex and x.shape[1] == self.max_len:
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
                raise ShapeError(
                    f"token ids must lie in [0, {self.vocab_size}), got range "
                    f"[{int(x.min())}, {int(x.max())}]",
                    hint="the data's vocabulary must match the discriminator's vocab_size")
            return
        if not isinstance(x, Tensor) or x.dim() != 3 or tuple(x.shape[1:]) != self.sample_shape:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(
                f"text discriminator expects (B, {self.max_len}, {self.vocab_size}) one-hots or "
                f"(B, {self.max_len}) token ids, got {got}",
                hint="feed relaxed one-hots from the generator, or the token ids of sentences",
            )
        if not x.dtype.is_floating_point:
            raise ShapeError(
                f"text discriminator expects float one-hots, got dtype {x.dtype}",
                hint="convert with .float()",
            )

    def embed_input(self, x: Tensor) -> Tensor:
        """``e = x W_e^T`` (B, T, embed_dim). Token ids (B, T) take the embedding lookup
        ``W_e^T[ids]``, which equals ``one_hot(ids) @ W_e^T`` exactly (each sum has one nonzero
        term) without building the (B, T, V) one-hot or multiplying by it."""
        if x.dtype.is_floating_point:
            return self.embed(x)
        return F.embedding(x, self.embed.weight.t())

    def conv_features(self, e: Tensor) -> Tensor:
        """The convolutions, ReLU and max over time on ``e`` (B, T, embed_dim): (B, num_rep, F).

        Each ``Conv2d(1, n, (f, w), stride (1, w))`` is computed as one matrix product: the
        windows ``e[:, s:s+f, r*w:(r+1)*w]`` unfolded into rows of ``f*w`` (time-major, as the
        kernel's flattening) and ``addmm(b, windows, W.view(n, f*w)^T)``, (B*T'*R, n). The same
        sums as ``conv2d`` in another order (within float rounding, tested against it)."""
        b, t_len, _ = e.shape
        r, w = self.num_rep, self.width
        pooled = []
        for conv in self.convs:
            weight = conv.weight  # (n, 1, f, w); a spectral-norm parametrisation applies here
            n_out, _, f, _ = weight.shape
            steps = t_len - f + 1
            win = e.unfold(1, f, 1)  # (B, T', E, f): E = R * w
            win = win.reshape(b, steps, r, w, f).transpose(3, 4).reshape(b * steps * r, f * w)
            out = torch.addmm(conv.bias, win, weight.reshape(n_out, f * w).t())
            pooled.append(F.relu(out.view(b, steps, r, n_out)).amax(dim=1))  # (B, R, n)
        return torch.cat(pooled, dim=2)

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(scores (B, num_rep), features (B, num_rep, F))``, the features after the highway."""
        self.check_input(x)
        h = self.conv_features(self.embed_input(x))  # (B, num_rep, F)
        t = torch.sigmoid(self.highway_gate(h))
        h = t * F.relu(self.highway(h)) + (1.0 - t) * h
        scores = self.logit(self.fc(self.dropout(h))).squeeze(-1)
        return scores, h

    def forward(self, x: Tensor) -> Tensor:
        """Scores (B, num_rep): one raw logit per representation."""
        return self.forward_features(x)[0]


_G_KEYS = {
    "relgan": ("embed_dim", "mem_slots", "num_heads", "head_size"),
    "lstm": ("embed_dim", "hidden_dim", "init", "init_std"),
}
_D_KEYS = ("embed_dim", "num_rep", "filter_sizes", "num_filters", "dropout")


def build_text_models(
    vocab_size: int, max_len: int, name: str = "relgan", **sizes: Any
) -> tuple[TextGenerator, RelGANDiscriminator]:
    """``(generator, discriminator)``: a :class:`RelationalMemoryGenerator` (``name="relgan"``) or
    an :class:`LSTMGenerator` (``"lstm"``), and a :class:`RelGANDiscriminator`.

    ``sizes`` are the constructors' keyword arguments prefixed ``g_`` (generator) or ``d_``
    (discriminator), e.g. ``g_head_size=16, d_num_rep=4``; unknown keys raise ConfigError.
    """
    if name not in TEXT_MODELS:
        raise ConfigError(f"unknown text model '{name}'",
                          hint=f"use one of {', '.join(TEXT_MODELS)}")
    g_kw: dict[str, Any] = {}
    d_kw: dict[str, Any] = {}
    for key, value in sizes.items():
        if key.startswith("g_") and key[2:] in _G_KEYS[name]:
            g_kw[key[2:]] = value
        elif key.startswith("d_") and key[2:] in _D_KEYS:
            d_kw[key[2:]] = value
        else:
            allowed = [f"g_{k}" for k in _G_KEYS[name]] + [f"d_{k}" for k in _D_KEYS]
            raise ConfigError(f"unknown size '{key}' for text model '{name}'",
                              hint=f"use {', '.join(allowed)}")
    gen: TextGenerator
    if name == "relgan":
        gen = RelationalMemoryGenerator(vocab_size, max_len, **g_kw)
    else:
        gen = LSTMGenerator(vocab_size, max_len, **g_kw)
    return gen, RelGANDiscriminator(vocab_size, max_len, **d_kw)


def temperature(step: int, total: int, beta_max: float, schedule: str = "exp") -> float:
    """RelGAN's inverse temperature ``beta`` at adversarial step ``i = step`` of ``N = total``.

    The forms of ``get_fixed_temperature`` in RelGAN's code (weilinie/RelGAN
    ``real/real_gan/real_train.py``; the same in TextGAN-PyTorch ``utils/helpers.py``), called
    with ``i = 0 .. N-1``. RelGAN hard-codes ``N = 5000`` whatever the number of adversarial steps
    (pass ``total=5000`` to reproduce it); here ``N = total``::

        const:   beta_max                                  (RelGAN's "no")
        exp:     beta_max ** (i / N)
        lin:     1 + (beta_max - 1) * i / (N - 1)
        log:     1 + (beta_max - 1) * log(i + 1) / log(N)
        sigmoid: 1 + (beta_max - 1) / (1 + exp((N / 2 - i) * 20 / N))
        quad:    1 + (beta_max - 1) * i^2 / (N - 1)^2
        sqrt:    1 + (beta_max - 1) * sqrt(i / (N - 1))

    ``step`` is clamped to ``[0, N]`` and the fractions of lin/log/quad/sqrt to at most 1 (so no
    schedule exceeds ``beta_max``; with N = 1 they are 1). All are nondecreasing in ``step`` for
    ``beta_max >= 1``; exp, lin, log, quad and sqrt start at exactly 1, sigmoid at
    ``1 + (beta_max - 1) / (1 + e^10)``.
    """
    if schedule not in TEMPERATURE_KINDS:
        raise ConfigError(f"unknown temperature schedule '{schedule}'",
                          hint=f"use one of {', '.join(TEMPERATURE_KINDS)}")
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise ConfigError(f"the temperature schedule needs total >= 1 steps, got {total!r}",
                          hint="pass the number of adversarial steps")
    if not (isinstance(beta_max, (int, float)) and math.isfinite(beta_max) and beta_max > 0):
        raise ConfigError(f"beta_max must be a positive number, got {beta_max!r}",
                          hint="RelGAN uses beta_max in {1, 10, 100, 1000}")
    b, n = float(beta_max), float(total)
    i = min(max(float(step), 0.0), n)

    def frac(num: float, den: float) -> float:
        return 1.0 if den <= 0 else min(num / den, 1.0)

    if schedule == "const":
        return b
    if schedule == "exp":
        return b ** (i / n)
    if schedule == "lin":
        return 1.0 + (b - 1.0) * frac(i, n - 1)
    if schedule == "log":
        return 1.0 + (b - 1.0) * frac(math.log(i + 1), math.log(n))
    if schedule == "sigmoid":
        return 1.0 + (b - 1.0) / (1.0 + math.exp((n / 2 - i) * 20.0 / n))
    if schedule == "quad":
        return 1.0 + (b - 1.0) * frac(i, n - 1) ** 2
    return 1.0 + (b - 1.0) * math.sqrt(frac(i, n - 1))
