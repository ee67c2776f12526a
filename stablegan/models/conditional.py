"""Class-conditional networks: the class enters G through its input and D as a second argument.

Generator input: ``z`` packed with the label, ``pack(z, y) = [z, y]`` of shape (B, latent_dim + 1)
(the label, an integer stored as a float, in the last column), so every part of stablegan that
draws ``z`` from the task's prior and calls ``G(z)`` (the trainer's fixed noise, EMA, sampling,
evaluation) serves conditional generators unchanged. :class:`ConditionalGenerator` unpacks it and
either concatenates a class embedding to z (``concat``) or hands y to the conditional BatchNorm
layers of a DCGAN/ResNet generator built with ``num_classes`` (``cbn``).

Critic: :class:`ConditionalCritic` wraps an unconditional discriminator with features phi(x) and
head f(x) = w . phi(x) + b and scores ``D(x, y)``:

* ``projection`` (Miyato & Koyama 2018): ``D(x, y) = f(x) + <embed(y), phi(x)>``;
* ``ac`` (Odena et al. 2017): ``D(x, y) = f(x)`` and class logits ``W_c phi(x) + b_c`` (read from
  :attr:`ConditionalCritic.last_logits` after each call) for the auxiliary cross-entropy.

The critic's labels are its second argument; when it is left out (the method's steps call
``D(x)``, also inside the gradient penalty and the consistency term) the labels set by the
method for the batch being scored (:attr:`ConditionalCritic.labels`) are used. A call with a batch
of another size and no labels (e.g. the trainer's overfitting check on held-out reals) scores
``mean_y D(x, y)`` over a uniform y: the projection is linear in embed(y), so that is
``f(x) + <mean_k embed(k), phi(x)>``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.errors import DataError, ShapeError
from stablegan.models.layers import Generator

CRITIC_MODES = ("projection", "ac")
GENERATOR_MODES = ("concat", "cbn")


def pack(z: Tensor, y: Tensor) -> Tensor:
    """``[z, y]``: latents (B, d) with the labels (B,) as a last float column, (B, d + 1)."""
    return torch.cat([z, y.to(z.dtype).reshape(-1, 1)], dim=1)


def unpack(zy: Tensor, latent_dim: int) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack`: ``(z (B, latent_dim), y (B,) int64)``."""
    return zy[:, :latent_dim], zy[:, latent_dim].round().long()


def check_labels(y: Tensor, num_classes: int, what: str = "labels") -> None:
    """DataError unless every label is an integer class id in [0, num_classes)."""
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise DataError(f"{what}: label {bad} is out of range for {num_classes} classes",
                        hint=f"class ids must be 0..{num_classes - 1}")


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine map, then a per-class gain and bias:
    ``cBN(x, y) = gamma[y] * BN(x) + beta[y]`` with ``gamma`` initialised to 1 and ``beta`` to 0
    (so at initialisation it equals ``nn.BatchNorm2d``)."""

    takes_labels = True

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.bn(x)
        return self.gain(y)[:, :, None, None] * h + self.bias(y)[:, :, None, None]


def norm_or_cbn(batchnorm: bool, channels: int, num_classes: int | None) -> nn.Module:
    """A generator's normalisation: conditional BN with ``num_classes``, else BN or identity."""
    if num_classes:
        return ConditionalBatchNorm2d(channels, num_classes)
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class LabelSequential(nn.Sequential):
    """``nn.Sequential`` that hands the labels to the layers that take them (cBN)."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, y) if getattr(layer, "takes_labels", False) else layer(x)
        return x


class ConditionalGenerator(Generator):
    """``G(pack(z, y))``: ``concat`` feeds ``[z, embed(y)]`` to ``base`` (built for latent_dim +
    embed_dim); ``cbn`` calls ``base.generate(z, y)`` (a generator built with num_classes)."""

    def __init__(self, base: Generator, latent_dim: int, num_classes: int, mode: str,
                 embed_dim: int = 0) -> None:
        super().__init__()
        if mode not in GENERATOR_MODES:
            raise ValueError(f"unknown conditional generator mode {mode!r}")
        self.base, self.mode = base, mode
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.sample_shape = tuple(base.sample_shape)
        self.embed = nn.Embedding(num_classes, embed_dim) if mode == "concat" else None

    def forward(self, z: Tensor) -> Tensor:
        """Samples (B, *sample_shape) from packed latents (B, latent_dim + 1)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim + 1:
            raise ShapeError(
                f"conditional generator expects latents packed with their class, shape (B, "
                f"{self.latent_dim + 1}), got {tuple(z.shape)}",
                hint="draw z from the task's prior (it appends the label), or "
                     "stablegan.models.conditional.pack(z, y)")
        z, y = unpack(z, self.latent_dim)
        check_labels(y, self.num_classes, "generator input")
        return self.generate(z, y)

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        assert y is not None, "a conditional generator needs labels"
        if self.embed is not None:
            return self.base.generate(torch.cat([z, self.embed(y)], dim=1))
        return self.base.generate(z, y)  # type: ignore[call-arg]


class ConditionalCritic(nn.Module):
    """``D(x, y)`` over an unconditional discriminator ``base`` (``features``, ``head``)."""

    def __init__(self, base: nn.Module, num_classes: int, mode: str) -> None:
        super().__init__()
        if mode not in CRITIC_MODES:
            raise ValueError(f"unknown conditional critic mode {mode!r}")
        self.base, self.mode, self.num_classes = base, mode, num_classes
        self.sample_shape = tuple(base.sample_shape)
        width = base.head.linear.in_features - _extra_features(base)
        if mode == "projection":
            self.embed: nn.Module | None = nn.Embedding(num_classes, width)
            nn.init.xavier_uniform_(self.embed.weight)
            self.classifier: nn.Module | None = None
        else:
            self.embed = None
            self.classifier = nn.Linear(width, num_classes)
        self.labels: Tensor | None = None  # set by the method for the batch being scored
        self.last_logits: Tensor | None = None  # AC: the class logits of the last call

    def _labels_for(self, x: Tensor, y: Tensor | None) -> Tensor | None:
        if y is None:
            y = self.labels
            if y is None or y.shape[0] != x.shape[0]:
                return None
        elif y.shape[0] != x.shape[0]:
            raise ShapeError(f"the critic got {x.shape[0]} samples but {y.shape[0]} labels",
                             hint="pass one label per sample")
        return y.to(x.device)

    def forward_features(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(D(x, y) (B,), phi(x) (B, F))``."""
        score, h = self.base.forward_features(x)
        labels = self._labels_for(x, y)
        if self.embed is not None:
            e = (self.embed(labels) if labels is not None
                 else self.embed.weight.mean(0, keepdim=True))  # mean_y D(x, y)
            score = score + (e * h).sum(dim=1)
        else:
            assert self.classifier is not None
            self.last_logits = self.classifier(h)
        return score, h

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.forward_features(x, y)[0]


def _extra_features(base: nn.Module) -> int:
    """Minibatch features the head appends beyond phi(x) (std-dev: 1, discrimination: K)."""
    extra = 0
    for layer in getattr(base.head, "minibatch", []):
        extra += int(getattr(layer, "num_kernels", 1))
    return extra


def auxiliary_loss(logits: Tensor, y: Tensor) -> Tensor:
    """AC-GAN's class term: the mean cross-entropy ``-mean log softmax(logits)[y]``."""
    return F.cross_entropy(logits.float(), y)


def per_class_softmax(scores: Tensor, y: Tensor, num_classes: int,
                      temperature: float = 1.0) -> Tensor:
    """``w_i = n_c * softmax_{j: y_j = c}(s_j / T)_i`` for c = y_i: the re-weighting softmax taken
    within each class of the batch, so each class keeps its share n_c of the total weight B."""
    s = scores.float() / temperature
    k = num_classes
    top = torch.full((k,), float("-inf"), device=s.device).scatter_reduce(
        0, y, s, reduce="amax", include_self=True)
    e = torch.exp(s - top[y])
    total = torch.zeros(k, device=s.device).index_add(0, y, e)
    count = torch.zeros(k, device=s.device).index_add(0, y, torch.ones_like(s))
    return count[y] * e / total[y]
