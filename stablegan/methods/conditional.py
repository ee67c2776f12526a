"""Class-conditional GANs: the label travels with every batch, into G and as D's second input.

The pair (:class:`ConditionalPair`) draws real batches with their labels and packs z with a label
for G (``models.conditional.pack``). Every critic forward pass of a step scores (x, y) pairs:

* critic step: the fakes are generated for the real batch's labels, so reals and fakes, the
  gradient penalty's interpolates and the consistency term's two dropout passes all share one
  y: ``GP`` is the penalty on ``D(., y)`` along lines between x_real and x_fake of one class;
* generator step: the labels are the ones packed in z (drawn from the class prior).

The pair tells the critic (and the ratio classifier C) the labels of the batch it is about to
score (``ConditionalCritic.labels``) whenever it draws a real batch or generates fakes, so the
method's steps call ``D(x)`` as for an unconditional GAN and every objective, the gradient
penalty, the consistency term, DiffAugment (label-independent) and EMA compose unchanged.

On top of that:

* AC-GAN (``conditional.critic=ac``): ``L_D += aux_weight * (CE(c(x_r), y) + CE(c(x_f), y))``
  and ``L_G += aux_weight * CE(c(G(z, y)), y)`` (Odena et al. 2017, cross-entropy on real and
  fake);
* the variational method: importance re-weighting of fakes per class (``conditional.reweight
  =class``: the softmax of Eq. 8 within each class of the batch, each class keeping its share)
  or over the batch; and the ratio classifier conditioned on y, ``C(x, y)``, trained on reals
  and fakes of the same labels, so that ``r = p_theta(x|y) / p_theta_old(x|y)`` (PPO-GAN's ratio
  for a conditional generator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.core.phases import Stats
from stablegan.errors import ConfigError
from stablegan.methods.gan import GANMethod
from stablegan.methods.pair import DataPair
from stablegan.methods.ppo import PPOGANMethod
from stablegan.methods.ratio import ClassifierRatio
from stablegan.models.conditional import (
    ConditionalCritic,
    auxiliary_loss,
    per_class_softmax,
    unpack,
)
from stablegan.objectives import per_sample
from stablegan.variational import effective_sample_size


class ConditionalPair(DataPair):
    """real = a labelled data batch; source = ``pack(z, y)``; fake = ``G(source)``. Each draw
    hands its labels to the critics (``method.critics``)."""

    def __init__(self, method: Any) -> None:
        super().__init__(method)
        self.real_labels: Tensor | None = None
        self.matched = False  # inside the critic step: fakes for the real batch's labels

    def real(self, n: int | None = None) -> Tensor:
        m = self.method
        x, y = m.task.labelled_batch(n or m.batch_size)
        x = x.to(m.device, non_blocking=True)
        if getattr(m, "channels_last", False) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        self.real_labels = y.to(m.device)
        m.set_critic_labels(self.real_labels)
        return x

    def source(self, n: int) -> Tensor:
        m = self.method
        y = self.real_labels
        if not (self.matched and y is not None and y.shape[0] == n):
            y = m.task.sample_labels(n)
        return m.task.class_prior_draw(n, m.latent_dim, y, m.device)

    def fake(self, source: Tensor) -> Tensor:
        m = self.method
        m.set_critic_labels(unpack(source, m.latent_dim)[1])
        return m.G(source)

    @contextlib.contextmanager
    def matched_labels(self, on: bool = True) -> Iterator[None]:
        """Within: ``source(n)`` reuses the labels of the last real batch of n."""
        was, self.matched = self.matched, on
        try:
            yield
        finally:
            self.matched = was


class ConditionalMixin:
    """The conditional parts of a method; mixed into GANMethod and PPOGANMethod."""

    cfg: Config
    D: nn.Module
    G: nn.Module
    pair: Any
    task: Any
    networks: dict[str, nn.Module]
    device: torch.device

    def _init_conditional(self) -> None:
        c = self.cfg.conditional
        if not isinstance(self.D, ConditionalCritic):
            raise ConfigError(
                f"conditional.critic={c.critic} needs a critic that takes the class, D(x, y); "
                f"got {type(self.D).__name__}",
                hint="let stablegan build the networks (task.build_models), or wrap yours in "
                     "stablegan.models.conditional.ConditionalCritic")
        if self.cfg.lipschitz.spectral_norm and self.D.embed is not None:
            from torch.nn.utils.parametrizations import spectral_norm

            spectral_norm(self.D.embed)  # mimicry's SNEmbedding: the projection normalised too
        self.pair = ConditionalPair(self)
        self._aux: dict[str, tuple[Tensor, Tensor]] = {}

    @property
    def critics(self) -> list[nn.Module]:
        return [n for n in self.networks.values() if isinstance(n, ConditionalCritic)]

    def set_critic_labels(self, y: Tensor) -> None:
        """The labels of the batch the critics score next."""
        for net in self.critics:
            net.labels = y

    # ---------------------------------------------------------------- steps
    def d_step(self, diagnostics: bool = False) -> Stats:
        with self.pair.matched_labels(True):
            return super().d_step(diagnostics)  # type: ignore[misc]

    def critic_scores(self, x: Tensor, name: str) -> Tensor:
        scores = super().critic_scores(x, name)  # type: ignore[misc]
        if self.cfg.conditional.critic == "ac":
            self._aux[name] = (self.D.last_logits, self.D.labels)
        return scores

    def critic_terms(self, loss: Tensor, terms: dict[str, Tensor], stats: Stats) -> Tensor:
        """AC-GAN: ``+ aux_weight * (CE(c(x_real), y) + CE(c(x_fake), y))``."""
        c = self.cfg.conditional
        if c.critic != "ac":
            return loss
        (logits_r, y_r), (logits_f, y_f) = self._aux.pop("real"), self._aux.pop("fake")
        ce_real, ce_fake = auxiliary_loss(logits_r, y_r), auxiliary_loss(logits_f, y_f)
        stats["aux/d_real_ce"], stats["aux/d_fake_ce"] = ce_real.detach(), ce_fake.detach()
        stats["aux/real_accuracy"] = (logits_r.detach().argmax(1) == y_r).float().mean()
        terms["auxiliary classifier loss"] = ce_real + ce_fake
        return loss + c.aux_weight * (ce_real + ce_fake)

    def generator_terms(self, loss: Tensor, terms: dict[str, Tensor], stats: Stats) -> Tensor:
        """AC-GAN: ``+ aux_weight * CE(c(G(z, y)), y)``."""
        c = self.cfg.conditional
        if c.critic != "ac":
            return loss
        logits, y = self._aux.pop("fake")
        self._aux.pop("real", None)  # a relativistic loss's real scores
        ce = auxiliary_loss(logits, y)
        stats["aux/g_ce"] = ce.detach()
        stats["aux/fake_accuracy"] = (logits.detach().argmax(1) == y).float().mean()
        terms["auxiliary classifier loss"] = ce
        return loss + c.aux_weight * ce

    def importance_weights(self, s_fake: Tensor, stats: Stats) -> Tensor:
        """Eq. 8 per class (``conditional.reweight=class``): ``w_i = n_c softmax_c(f / T)_i``
        within the fakes of class c = y_i; over the batch otherwise."""
        if self.cfg.conditional.reweight != "class":
            return super().importance_weights(s_fake, stats)  # type: ignore[misc]
        y = self.D.labels
        assert y is not None and self.task.num_classes is not None
        scores = per_sample(s_fake).detach()
        weights = per_class_softmax(scores, y, self.task.num_classes,
                                    self.cfg.variational.temperature)
        stats["weights/ess"] = effective_sample_size(weights)
        stats["weights/max"] = weights.max()
        return weights


class ConditionalGANMethod(ConditionalMixin, GANMethod):
    """A GANMethod whose G and D see the class."""

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module,
                 task: Any, device: torch.device | str = "cpu") -> None:
        GANMethod.__init__(self, cfg, generator, discriminator, task, device)
        self._init_conditional()


class ConditionalClassifierRatio(ClassifierRatio):
    """The ratio classifier conditioned on y: ``C(x, y)`` is trained on reals and fakes of the
    same labels (BCE real = 1 / fake = 0), so its odds estimate ``p_data(x|y) / p_theta(x|y)``
    and ``log r = l_old - l`` is the log ratio of the conditional densities. The labels of the
    fakes being scored are those packed in their z (set by the pair when it generates them)."""

    def update(self) -> Stats:
        m = self.method
        real = m.pair.real()
        y = m.pair.real_labels
        with torch.no_grad(), m.pair.matched_labels(True):
            fake = m.pair.fake(m.pair.source(real.shape[0]))
        return self.fit(real, fake, y)

    def begin_phase(self, z: Tensor) -> None:
        self.method.set_critic_labels(unpack(z, self.method.latent_dim)[1])
        super().begin_phase(z)


class ConditionalPPOMethod(ConditionalMixin, PPOGANMethod):
    """PPO-GAN (the variational method) with G, D and the ratio classifier C conditioned on y."""

    ratio_class = ConditionalClassifierRatio

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module,
                 task: Any, device: torch.device | str = "cpu",
                 classifier: nn.Module | None = None) -> None:
        PPOGANMethod.__init__(self, cfg, generator, discriminator, task, device, classifier)
        self._init_conditional()
        if isinstance(self.ratio, ClassifierRatio) and not isinstance(self.C, ConditionalCritic):
            raise ConfigError("the conditional variational method needs a ratio classifier "
                              "that takes the class, C(x, y)",
                              hint="let stablegan build it (task.build_classifier)")


__all__ = ["ConditionalGANMethod", "ConditionalPPOMethod", "ConditionalPair"]
