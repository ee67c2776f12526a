"""Networks of text style transfer (Hu et al. 2017; Tikhonov et al. 2019; Wu et al. 2020).

* :class:`StyleAutoencoder`: a GRU encoder whose final state gives the content code z
  (``z_dim``), a style code c = an embedding of the label (``c_dim``), and a GRU decoder started
  from ``tanh(W [z; c])`` whose every input is ``[word embedding; c]``. It reconstructs a
  sentence from (z, c) with teacher forcing (:meth:`reconstruct_logits`), decodes a transferred
  sentence from (z, c') softly with Gumbel-softmax at temperature tau (:meth:`soft_decode`:
  each step feeds the expected embedding ``y_t @ E`` of its relaxed one-hot ``y_t`` back in),
  and greedily (:meth:`greedy`). ``forward(packed)`` (ids + label) transfers to the next
  style ``(label + 1) % K`` (the other one for two styles) and returns token ids.
  With ``attention=True`` the decoder attends over the encoder states (Luong et al. 2015,
  "general" score, no input feeding): at step t, ``a = softmax_s(h_t W_a e_s)`` over the
  sentence's non-pad positions s, and the output is ``out(tanh(W_c [h_t; sum_s a_s e_s]))``;
  the decoder GRU itself is unchanged, so teacher forcing stays one GRU call.
  :meth:`reconstruction_nll` computes the output layer only at non-pad target positions.
* :class:`LatentCritic`: an MLP on z (the latent-code discriminator); also the ratio
  classifier of probability-ratio clipping on the encoder side.
* :class:`SentenceCritic`: the auxiliary sentence-level critic (Tikhonov et al. 2019): a CNN
  over ids or (soft) one-hots with one score per style; ``S(x, y)`` is the score of x as a
  sentence of style y (the head of y), so real sentences of style y are compared with
  sentences transferred to y. Also the sentence-side ratio classifier of ratio clipping.
* :class:`StyleClassifier`: a CNN sentence classifier (Kim 2014: widths 3, 4, 5, max-over-time
  pooling) over ids or relaxed one-hots ``(B, L, V)``; both the model's own classifier (which
  guides the soft transferred sentence) and the separate evaluation classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.models.text import gumbel_noise

BOS_ID, EOS_ID, PAD_ID = 1, 2, 0
Memory = tuple[Tensor, Tensor]  # encoder states (B, L, hidden) and their non-pad mask (B, L)


class StyleAutoencoder(nn.Module):
    def __init__(self, vocab_size: int, max_len: int, num_styles: int, embed_dim: int = 64,
                 hidden: int = 128, z_dim: int = 64, c_dim: int = 32,
                 attention: bool = False) -> None:
        super().__init__()
        self.vocab_size, self.max_len, self.num_styles = vocab_size, max_len, num_styles
        self.attention = attention
        self.z_dim = self.latent_dim = z_dim
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.encoder = nn.GRU(embed_dim, hidden, batch_first=True)
        self.to_z = nn.Linear(hidden, z_dim)
        self.style = nn.Embedding(num_styles, c_dim)
        self.init = nn.Linear(z_dim + c_dim, hidden)
        self.decoder = nn.GRU(embed_dim + c_dim, hidden, batch_first=True)
        self.cell = nn.GRUCell(embed_dim + c_dim, hidden)
        self.out = nn.Linear(hidden, vocab_size)
        if attention:
            self.att_score = nn.Linear(hidden, hidden, bias=False)  # W_a
            self.att_combine = nn.Linear(2 * hidden, hidden)  # W_c
        self._tie_cell()

    def _tie_cell(self) -> None:
        """The step-wise cell shares the decoder GRU's weights (one set of parameters)."""
        for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                     ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")):
            delattr(self.cell, a)
            setattr(self.cell, a, getattr(self.decoder, b))

    def _apply(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - nn.Module's signature
        out = super()._apply(fn, *args, **kwargs)
        self._tie_cell()
        return out

    # ------------------------------------------------------------------ encoder
    def encode(self, ids: Tensor) -> Tensor:
        """Content codes (B, z_dim): the GRU state after each sentence's ``<eos>``."""
        return self.encode_all(ids)[0]

    def encode_all(self, ids: Tensor) -> tuple[Tensor, Memory | None]:
        """Content codes (B, z_dim) and, with attention, the encoder states the decoder
        attends over: ``(states (B, L, hidden), mask (B, L) true at non-pad positions)``."""
        ids = ids.long()
        mask = ids != PAD_ID
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True,
                                                   enforce_sorted=False)
        states, h = self.encoder(packed)
        memory = None
        if self.attention:
            states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True,
                                                         total_length=ids.shape[1])
            memory = (states, mask | (torch.arange(ids.shape[1], device=ids.device) == 0))
        return self.to_z(h[-1]), memory

    def _start(self, z: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        c = self.style(labels.long())
        return torch.tanh(self.init(torch.cat([z, c], 1))), c

    def _output(self, h: Tensor, memory: Memory | None, rows: Tensor | None = None) -> Tensor:
        """Logits of decoder states ``h`` (..., hidden): ``out(h)``, or with attention
        ``out(tanh(W_c [h; context]))``. ``h`` is (B, T, hidden) or (B, hidden); with ``rows``
        it is (N, hidden) and ``rows`` (N,) names each state's sentence."""
        if memory is None:
            return self.out(h)
        states, mask = memory
        if rows is not None:
            states, mask = states[rows], mask[rows]
        q = self.att_score(h)
        squeeze = q.dim() == 2
        if squeeze:
            q = q[:, None]
        scores = (q @ states.transpose(1, 2)).masked_fill(~mask[:, None], float("-inf"))
        context = torch.softmax(scores, -1) @ states
        if squeeze:
            context = context[:, 0]
        return self.out(torch.tanh(self.att_combine(torch.cat([h, context], -1))))

    # ------------------------------------------------------------------ decoders
    def _teacher_states(self, ids: Tensor, z: Tensor, labels: Tensor) -> Tensor:
        h0, c = self._start(z, labels)
        ids = ids.long()
        prev = torch.cat([torch.full_like(ids[:, :1], BOS_ID), ids[:, :-1]], 1)
        inp = torch.cat([self.embed(prev), c[:, None].expand(-1, ids.shape[1], -1)], 2)
        hs, _ = self.decoder(inp, h0[None])
        return hs

    def reconstruct_logits(self, ids: Tensor, z: Tensor, labels: Tensor,
                           memory: Memory | None = None) -> Tensor:
        """Teacher-forced logits (B, L, V) of ``ids`` from (z, c(labels))."""
        return self._output(self._teacher_states(ids, z, labels), memory)

    def reconstruction_nll(self, ids: Tensor, z: Tensor, labels: Tensor,
                           memory: Memory | None = None) -> Tensor:
        """Mean teacher-forced cross-entropy per token over each sentence and its ``<eos>``
        (``<pad>`` positions ignored); the same value as ``reconstruction_loss`` of
        :meth:`reconstruct_logits`, with the output layer evaluated at non-pad positions
        only."""
        ids = ids.long()
        hs = self._teacher_states(ids, z, labels)
        keep = ids != PAD_ID
        rows = keep.nonzero()[:, 0] if memory is not None else None
        logits = self._output(hs[keep], memory, rows)
        return F.cross_entropy(logits, ids[keep])

    def soft_decode(self, z: Tensor, labels: Tensor, tau: float,
                    generator: torch.Generator | None = None,
                    memory: Memory | None = None) -> Tensor:
        """Relaxed one-hots (B, max_len, V): ``softmax((logits + g) / tau)`` at every step,
        with Gumbel noise g; differentiable in z and every weight."""
        h, c = self._start(z, labels)
        x = self.embed.weight[BOS_ID].expand(z.shape[0], -1)
        out = []
        for _ in range(self.max_len):
            h = self.cell(torch.cat([x, c], 1), h)
            logits = self._output(h, memory)
            g = gumbel_noise(logits.shape, generator, logits.device)
            y = torch.softmax((logits + g) / tau, dim=-1)
            out.append(y)
            x = y @ self.embed.weight
        return torch.stack(out, 1)

    @torch.no_grad()
    def greedy(self, z: Tensor, labels: Tensor, memory: Memory | None = None) -> Tensor:
        """Arg-max decoding: ids (B, max_len) with ``<pad>`` after the first ``<eos>``."""
        h, c = self._start(z, labels)
        prev = torch.full((z.shape[0],), BOS_ID, dtype=torch.long, device=z.device)
        out = []
        for _ in range(self.max_len):
            h = self.cell(torch.cat([self.embed(prev), c], 1), h)
            prev = self._output(h, memory).argmax(-1)
            out.append(prev)
        ids = torch.stack(out, 1)
        return mask_after_eos(ids)

    def transfer(self, ids: Tensor, targets: Tensor) -> Tensor:
        """Greedy transfer of ``ids`` to the styles ``targets``: ids (B, max_len)."""
        z, memory = self.encode_all(ids)
        return self.greedy(z, targets, memory)

    def forward(self, packed: Tensor) -> Tensor:
        """Transfer a packed batch (ids then label per row) to style ``(label + 1) % K``."""
        ids, labels = packed[:, :-1], packed[:, -1]
        return self.transfer(ids, (labels.long() + 1) % self.num_styles)


def mask_after_eos(ids: Tensor) -> Tensor:
    """``ids`` with every position after the first ``<eos>`` set to ``<pad>``."""
    seen = (ids == EOS_ID).long().cumsum(1)
    after = (seen - (ids == EOS_ID).long()) > 0
    return ids.masked_fill(after, PAD_ID)


class LatentCritic(nn.Module):
    """MLP z -> one score (the latent-code discriminator; the ratio classifier)."""

    def __init__(self, z_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)[:, 0]


class StyleClassifier(nn.Module):
    """Kim (2014) CNN: ids (B, L) or relaxed one-hots (B, L, V) -> style logits (B, K)."""

    WIDTHS = (3, 4, 5)

    def __init__(self, vocab_size: int, num_styles: int, embed_dim: int = 64,
                 filters: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, w) for w in self.WIDTHS)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(filters * len(self.WIDTHS), num_styles)

    def forward(self, x: Tensor) -> Tensor:
        e = x @ self.embed.weight if x.is_floating_point() else self.embed(x.long())
        if e.shape[1] < max(self.WIDTHS):
            e = F.pad(e, (0, 0, 0, max(self.WIDTHS) - e.shape[1]))
        e = e.transpose(1, 2)
        feats = torch.cat([torch.relu(conv(e)).amax(2) for conv in self.convs], 1)
        return self.head(self.drop(feats))


class SentenceCritic(nn.Module):
    """``S(x, y)``: a Kim (2014) CNN over ids (B, L) or (soft) one-hots (B, L, V) with one
    score per style, of which the head of each sentence's style ``y`` (B,) is returned."""

    def __init__(self, vocab_size: int, num_styles: int, embed_dim: int = 64,
                 filters: int = 64) -> None:
        super().__init__()
        self.features = StyleClassifier(vocab_size, num_styles, embed_dim, filters, dropout=0.0)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        scores = self.features(x)
        return scores.gather(1, labels.long().reshape(-1, 1))[:, 0]


class Conditioned(nn.Module):
    """``x -> critic(x, labels)`` with the labels fixed (the gradient penalty's view of a
    conditional critic)."""

    def __init__(self, critic: nn.Module, labels: Tensor) -> None:
        super().__init__()
        self.critic, self.labels = critic, labels

    def forward(self, x: Tensor) -> Tensor:
        return self.critic(x, self.labels)


def one_hot(ids: Tensor, vocab_size: int) -> Tensor:
    """Float one-hots (B, L, V) of ids (B, L): real sentences in the soft sentences' space."""
    return F.one_hot(ids.long(), vocab_size).float()


def soft_pad_mask(soft: Tensor) -> Tensor:
    """Relaxed one-hots with every position after the (hard) first ``<eos>`` replaced by an
    exact ``<pad>`` one-hot, so a classifier reads only the sentence itself."""
    ids = soft.detach().argmax(-1)
    seen = (ids == EOS_ID).long().cumsum(1)
    after = ((seen - (ids == EOS_ID).long()) > 0)[..., None]
    pad = torch.zeros_like(soft)
    pad[..., PAD_ID] = 1.0
    return torch.where(after, pad, soft)
