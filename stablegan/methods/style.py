"""Text style transfer with adversarial training on hidden states (task "style").

Networks: ``G`` the :class:`~stablegan.models.style.StyleAutoencoder` (encoder, style codes,
decoder), ``D`` the latent adversary on the content code z, ``C`` the model's own CNN style
classifier (trained on real labelled sentences), and with probability-ratio clipping ``R``, the
ratio classifier between the pair's two sides.

The latent adversary (``style.adversary``):

* ``style`` (default; Tikhonov et al. 2019 and the authors' code, where an MLP predicts the style
  label from z and the encoder maximises its loss with weight lambda_z = 0.5): the pair is
  :class:`~stablegan.methods.pair.StylePair`, real = codes of style ``a = style.adversary_real``
  sentences, fake = codes of the other style's, both from the current encoder. The encoder plays
  generator for both sides: a code of style ``a`` should look "fake", one of the other style
  "real". Its loss is the objective's generator loss on every code of the batch, with the scores
  of style-``a`` codes mirrored (``s -> -s``; ``1 - s`` for least squares), which is the
  generator loss of the same game with the sides' names swapped (every loss here but ``rsgan``,
  which is refused, is symmetric that way). Under ``minimax`` this is exactly the authors'
  ``-lambda_z * loss_z_clas`` (the encoder ascends the classifier's cross-entropy); under
  ``nonsaturating`` its non-saturating form; under ``wasserstein`` the encoder pulls the two
  styles' mean critic values together. ``adversary/accuracy`` logs how well D tells the styles
  apart on the generator step's codes (chance 0.5 = style removed from z).
* ``prior``: an adversarial autoencoder, :class:`~stablegan.methods.pair.LatentPair`
  (real = z ~ N(0, I), fake = ``G.encode(x)``): z is matched to the prior, which does not push
  style out of z (the behaviour before issue 18).

Either way ``GANMethod.d_step`` is the critic step unchanged: the configured objective, gradient
penalty and the critic-side re-weighting of fakes (``variational.reweight``) apply to codes.

Phases:

* ``autoencoder`` (``style.autoencoder_steps``): reconstruction only (teacher forcing), plus one
  step of C on real sentences;
* [``warmup``: ``schedule.d_warmup`` critic steps];
* ``adversarial``: ``n_critic`` D steps via the pair, then ``n_gen`` encoder/decoder steps::

      z = E(x) ; c = style(y) ; c' = style(y'),  y' != y
      L = rec_weight * CE(dec(z, c) | x)                         teacher forcing
        + style_weight * CE(C(soft_dec(z, c', tau)), y')         Gumbel-softmax, C fixed
        + adv_weight * A(D(z))

  where A is ``objective.g_loss`` (classic), the authors' ``mean(w * g_loss_i)`` with
  ``w = B softmax(D(z))`` detached (``style.importance=softmax``), or, with
  ``variational.clip``, minus PPO's clipped surrogate of Eq. 5 with
  ``log r = R_old(z_old) - R(z)`` on one source batch for the phase; then one C step. Under the
  style adversary D(z) is the mirrored score of each code (above) and R, trained like D on the
  pair (real side labelled 1), gives ``log r = sign * (R_old(z_old) - R(z))`` with sign -1 for
  real-side codes: Eq. 6 for each side as the "fake" of its game, the other side held as it was
  at the phase's start (it moves with the same encoder, so r is exactly 1 at theta_old and an
  approximation after).

  R and RS are :class:`~stablegan.methods.ratio.ClassifierRatio` estimators (RS with the target
  style as its condition) and the loss is :func:`~stablegan.variational.clipped_loss`, as for
  PPO-GAN, so every ``variational.*`` option applies: ``ratio=classifier_same_x`` (frozen copies
  of R and RS at the phase's start, ``log r = R^(t)(z) - R(z)``), ``classifier_bn`` (accepted, but
  without effect here: R is an MLP without BatchNorm, so joint and separate passes give the same
  numbers, and RS always scores its reals, ids, and fakes, soft one-hots, in separate passes),
  ``classifier_schedule``,
  ``classifier_warmup`` (R and RS steps after the critic warm-up), ``classifier_lr_divide`` (G,
  R and RS at lr / n_gen), ``target_kl``, ``ratio_gradient``, ``advantage``, ``clip_mode``,
  ``eps``. Refused by the style section's validation when the config is built
  (:func:`stablegan.taskconfig.style.validate_style`, so ``stablegan config`` and ``train`` say
  it before anything runs): ``ratio=exact`` (codes have no likelihood) and ``per_phase`` with
  the sentence critic (RS trains on each step's soft transfers).

The Gumbel temperature tau starts at ``style.tau_start`` and is multiplied by ``style.tau_decay``
every ``style.tau_every`` adversarial steps (0: one data epoch), floor ``style.tau_min``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import stablegan.lipschitz as lipschitz
from stablegan.config import Config
from stablegan.core.checkpoint import load_module, pretrained_checkpoint
from stablegan.core.phases import ADVERSARIAL, Phase, Stats
from stablegan.errors import ConfigError, DataError
from stablegan.methods.gan import GANMethod
from stablegan.methods.pair import LatentPair, StylePair
from stablegan.methods.ratio import ClassifierRatio, classifier_lr, run_generator_phase
from stablegan.models.style import PAD_ID, Conditioned, LatentCritic, one_hot, soft_pad_mask
from stablegan.variational import (
    advantage,
    clipped_loss,
    effective_sample_size,
    importance_weights,
)


def reconstruction_loss(logits: Tensor, ids: Tensor) -> Tensor:
    """Mean per-token cross-entropy over the sentence and its ``<eos>`` (``<pad>`` ignored)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1).long(),
                           ignore_index=PAD_ID)


def gumbel_temperature(step: int, cfg: Any, steps_per_epoch: int) -> float:
    """``max(tau_min, tau_start * tau_decay ** (step // every))``."""
    st = cfg.style
    every = st.tau_every or max(1, steps_per_epoch)
    return max(st.tau_min, st.tau_start * st.tau_decay ** (step // every))


@contextlib.contextmanager
def flush_denormals(device: torch.device) -> Iterator[None]:
    """On CPU, flush denormal floats to zero inside the block (and back to IEEE behaviour,
    torch's default, after it). Gumbel-softmax at low temperature puts most of the vocabulary's
    probability mass at values below 1.2e-38, where CPU arithmetic is several times slower:
    measured 4.3 s -> 1.7 s for a soft decode and classifier pass at tau 0.06 (batch 64,
    V 7,012); only values below 1.2e-38 change."""
    if device.type != "cpu" or not torch.set_flush_denormal(True):
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


class StyleMethod(GANMethod):
    """Autoencoder pre-training, then joint adversarial training on the content code."""

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module, task: Any,
                 device: torch.device | str = "cpu", classifier: nn.Module | None = None
                 ) -> None:
        super().__init__(cfg, generator, discriminator, task, device)
        st = cfg.style
        self.K = int(task.data.num_styles)
        self.adversary = st.adversary
        if self.adversary == "style":
            if self.K != 2:
                raise ConfigError(f"style.adversary=style compares the codes of two styles; data "
                                  f"'{self.data.name}' has {self.K}",
                                  hint="use two styles, or set style.adversary=prior")
            if self.objective.relativistic:
                raise ConfigError("style.adversary=style does not support objective.loss=rsgan "
                                  "(its generator loss pairs one real with one fake code)",
                                  hint="use another objective, or set style.adversary=prior")
            self.pair: LatentPair | StylePair = StylePair(self, st.adversary_real)
        else:
            self.pair = LatentPair(self)
        self.C = (classifier or task.build_classifier(cfg.model)).to(self.device)
        self.add_network("C", self.C, st.classifier_lr)
        v = cfg.variational
        self.clip = bool(v.clip)
        # ratio clipping: R on the pair's codes (its own BatchNorm option), RS on sentences
        self.ratio: ClassifierRatio | None = None
        self.sentence_ratio: ClassifierRatio | None = None
        if self.clip:
            self.R = LatentCritic(self.latent_dim, st.critic_hidden).to(self.device)
            self.add_network("R", self.R, classifier_lr(cfg))
            self.ratio = ClassifierRatio.from_config(
                self, self.R, v, name="R", term="ratio classifier loss",
                keys=("classifier/ratio_loss", "classifier/ratio_accuracy"))
        self.sentence = bool(st.sentence_critic)
        if self.sentence:
            self.S = task.build_sentence_critic().to(self.device)
            self.add_network("S", self.S, cfg.optim.d_lr)
            if self.clip:
                self.RS = task.build_sentence_critic().to(self.device)
                self.add_network("RS", self.RS, classifier_lr(cfg))
                # reals are ids, fakes soft one-hots, and RS has no BatchNorm: separate passes
                self.sentence_ratio = ClassifierRatio.from_config(
                    self, self.RS, v, bn="authors", name="RS", term="ratio classifier loss",
                    keys=("sentence/ratio_loss", "sentence/ratio_accuracy"))
        if self.clip:  # the authors' code: G and R at lr / n_gen (classifier_lr_divide)
            self.divide_generator_lr()
        if self.sentence or self.adversary == "style":
            train = self.data.reals(10**9, "train")
            self._train_ids = train[:, :-1]
            self._pools = [(train[:, -1] == k).nonzero()[:, 0] for k in range(self.K)]
            empty = [self.data.label_names[k] for k, p in enumerate(self._pools) if not len(p)]
            if empty:
                who = " and ".join(n for n, on in (("the sentence critic", self.sentence),
                                                   ("the style adversary",
                                                    self.adversary == "style")) if on)
                raise DataError(f"style(s) {', '.join(empty)} have no training sentence (after "
                                f"the held-out split); {who} needs real sentences of every "
                                "style",
                                hint="add sentences of that style, lower data.holdout_fraction "
                                     "or raise data.max_items")
        if cfg.pretrain.init_from:  # G is loaded by the trainer; the own classifier here
            path, state = pretrained_checkpoint(cfg, self.data)
            if "C" in state.get("networks", {}):
                load_module(self.C, state["networks"]["C"], "C")
        self.tau = st.tau_start

    def evaluation_models(self) -> dict[str, nn.Module]:
        """The model's own style classifier C, which the ``own_accuracy`` metric asks for."""
        return {**super().evaluation_models(), "own_classifier": self.C}

    # ---------------------------------------------------------------- schedule
    @classmethod
    def updates_per_iteration(cls, cfg: Config) -> int:
        """n_critic + n_gen (+ n_gen ratio-classifier steps with clipping; + n_gen sentence
        critic steps, and as many sentence ratio-classifier steps with clipping) + one C
        step."""
        clip, sentence = bool(cfg.variational.clip), bool(cfg.style.sentence_critic)
        per_g = 1 + clip + sentence + (sentence and clip)
        return cfg.schedule.n_critic + cfg.schedule.n_gen * per_g + 1

    def phases(self, steps: int) -> list[Phase]:
        self.adversarial_steps = steps
        out = []
        if self.cfg.style.autoencoder_steps:
            out.append(Phase("autoencoder", self.cfg.style.autoencoder_steps,
                             self.autoencoder_step, ("G", "C")))
        if self.warmup_steps():
            ratios = (("R", "RS") if self.ratio is not None and self.ratio.warmup else ())
            out.append(Phase("warmup", self.warmup_steps(), self.warmup_step,
                             ("D",) + tuple(n for n in ratios if n in self.networks)))
        out.append(Phase(ADVERSARIAL, steps, self.iteration, tuple(self.networks)))
        return out

    def warmup_steps(self) -> int:
        """``schedule.d_warmup`` critic steps, then (with clipping)
        ``variational.classifier_warmup`` steps of the ratio classifiers."""
        return super().warmup_steps() + (self.ratio.warmup if self.ratio is not None else 0)

    def warmup_step(self, index: int, diagnostics: bool = False) -> Stats:
        """A critic step, or after ``schedule.d_warmup`` of them, one step of R on the pair
        (and of RS on real sentences against soft transfers of a data batch)."""
        if index < self.cfg.schedule.d_warmup or self.ratio is None:
            return super().warmup_step(index, diagnostics)
        stats = self.ratio.update()
        if self.sentence_ratio is not None:
            ids, labels = self._split(self.batch(self.batch_size))
            targets = self.other_styles(labels)
            with torch.no_grad():
                z, memory = self.G.encode_all(ids)
                soft = soft_pad_mask(self.G.soft_decode(z, targets, self.tau, memory=memory))
            stats.update(self.sentence_ratio.fit(self.real_sentences(targets), soft, targets))
        return stats

    def steps_per_epoch(self) -> int:
        return int(self.data.size) // self.batch_size

    # ---------------------------------------------------------------- pieces
    def _split(self, packed: Tensor) -> tuple[Tensor, Tensor]:
        return packed[:, :-1], packed[:, -1].long()

    def batch(self, n: int) -> Tensor:
        """A training batch of ``n`` packed sentences (ids then label) of mixed styles."""
        return self.task.real_batch(n).to(self.device)

    def other_styles(self, labels: Tensor) -> Tensor:
        """A different style for every sentence: the other one for two styles, else uniform
        over the K - 1 others."""
        if self.K == 2:
            return 1 - labels
        shift = torch.randint(1, self.K, labels.shape, device=labels.device)
        return (labels + shift) % self.K

    def autoencoder_step(self, index: int, diagnostics: bool = False) -> Stats:
        """One reconstruction step of G, then one step of C on real sentences."""
        ids, labels = self._split(self.batch(self.batch_size))
        z, memory = self.G.encode_all(ids)
        rec = self.G.reconstruction_nll(ids, z, labels, memory)
        norm = self.step("G", rec, {"reconstruction loss": rec})
        stats = {"loss/g": rec.detach(), "loss/rec": rec.detach(), "grad/g_norm": norm}
        stats.update(self.classifier_step())
        return stats

    def classifier_step(self) -> Stats:
        """One cross-entropy step of the model's own style classifier on real sentences."""
        ids, labels = self._split(self.batch(self.batch_size))
        self.C.train()
        logits = self.C(ids)
        loss = F.cross_entropy(logits, labels)
        self.step("C", loss, {"classifier loss": loss})
        acc = (logits.detach().argmax(1) == labels).float().mean()
        return {"loss/c": loss.detach(), "classifier/accuracy": acc}

    # ---------------------------------------------------------------- adversarial phase
    def iteration(self, index: int = 0, diagnostics: bool = False) -> Stats:
        """``GANMethod.iteration`` (n_critic critic steps on the pair, then :meth:`g_phase`) at
        the Gumbel temperature of step ``index``, denormals flushed on the CPU."""
        self.tau = gumbel_temperature(index, self.cfg, self.steps_per_epoch())
        with flush_denormals(self.device):
            out = super().iteration(index, diagnostics)
        out["style/tau"] = self.tau
        return out

    def g_phase(self, diagnostics: bool = False) -> list[Stats]:
        """``n_gen`` generator steps, then one step of C. With clipping all of them on one
        source batch, after the ratio classifiers recorded the old encoder
        (:meth:`begin_ratio_phase`), each preceded by its ratio-classifier step(s)
        (``variational.classifier_schedule``) and stopped early past ``variational.target_kl``
        (:func:`~stablegan.methods.ratio.run_generator_phase`)."""
        n_gen = self.cfg.schedule.n_gen
        fixed = (self.batch(self.batch_size)
                 if self.cfg.schedule.same_z_for_gen_steps or self.clip else None)
        targets = self.other_styles(fixed[:, -1].long()) if fixed is not None else None
        if self.ratio is None:
            out = [self.g_step(fixed if fixed is not None else self.batch(self.batch_size),
                               targets) for _ in range(n_gen)]
        else:
            assert fixed is not None and targets is not None
            self.begin_ratio_phase(fixed, targets)
            ratio = self.ratio

            def step() -> Stats:
                stats = ratio.before_step()
                stats.update(self.g_step(fixed, targets))
                return stats

            out = run_generator_phase(n_gen, step, self.cfg.variational.target_kl)
        out.append(self.classifier_step())
        return out

    def begin_ratio_phase(self, source: Tensor, targets: Tensor) -> None:
        """The ratio classifiers' phase start on the phase's source batch: ``per_phase``, R's
        steps first; then C_old recorded: R's logits at the old codes ``z_old = E_old(x)`` and
        RS's at the old soft transfers of z_old to ``targets`` (or, with
        ``variational.ratio=classifier_same_x``, frozen copies of R and RS)."""
        assert self.ratio is not None
        self.ratio.before_phase(self.cfg.schedule.n_gen)
        old = not self.ratio.same_x  # the old samples are needed
        with torch.no_grad():
            z_old, memory = self.G.encode_all(source[:, :-1]) if old else (None, None)
            self.ratio.record(z_old)
            if self.sentence_ratio is not None:
                x_old = (soft_pad_mask(self.G.soft_decode(z_old, targets, self.tau,
                                                          memory=memory)) if old else None)
                self.sentence_ratio.record(x_old, targets)

    # ---------------------------------------------------------------- sentence critic
    def real_sentences(self, labels: Tensor) -> Tensor:
        """Training sentences (ids) drawn uniformly among those of each style in ``labels``."""
        labels = labels.cpu()
        out = torch.empty(len(labels), self._train_ids.shape[1], dtype=torch.long)
        for k, pool in enumerate(self._pools):
            rows = (labels == k).nonzero()[:, 0]
            if len(rows):
                out[rows] = self._train_ids[pool[torch.randint(len(pool), (len(rows),))]]
        return out.to(self.device)

    def sentence_critic_loss(self, real: Tensor, fake: Tensor, labels: Tensor
                             ) -> tuple[Tensor, dict[str, Tensor], Stats]:
        """S's loss on real sentences (ids (B, L)) and (soft) fakes (B, L, V) of the styles
        ``labels``: ``objective.d_loss(S(real, y), S(fake, y), w)`` (w: Eq. 8's weights of the
        fakes with variational.reweight, else none) + ``lipschitz.gradient_penalty.weight`` *
        the gradient penalty on interpolates of real one-hots and fakes."""
        cfg = self.cfg
        s_real, s_fake = self.S(real, labels), self.S(fake, labels)
        stats: Stats = {}
        weights = None
        if cfg.variational.reweight:
            w_stats: Stats = {}
            weights = self.importance_weights(s_fake, w_stats)
            stats["sentence/weights_ess"] = w_stats["weights/ess"]
        adv = self.objective.d_loss(s_real, s_fake, weights)
        loss, terms = adv, {"sentence critic loss": adv}
        gp_cfg = cfg.lipschitz.gradient_penalty
        if gp_cfg.weight > 0:
            gp, _ = lipschitz.gradient_penalty(Conditioned(self.S, labels),
                                               one_hot(real, fake.shape[-1]), fake,
                                               gp_cfg.target, gp_cfg.one_sided)
            loss, terms["sentence gradient penalty"] = loss + gp_cfg.weight * gp, gp
            stats["sentence/gp"] = gp.detach()
        stats.update({"loss/s": loss.detach(), "sentence/real": s_real.detach().mean(),
                      "sentence/fake": s_fake.detach().mean()})
        return loss, terms, stats

    def sentence_steps(self, soft: Tensor, targets: Tensor) -> Stats:
        """One step of S (and of RS with clipping) on fresh real sentences of the styles
        ``targets`` against this generator step's soft sentences (detached)."""
        real = self.real_sentences(targets)
        fake = soft.detach()
        loss, terms, stats = self.sentence_critic_loss(real, fake, targets)
        self.step("S", loss, terms)
        if self.sentence_ratio is not None:
            stats.update(self.sentence_ratio.fit(real, fake, targets))
        return stats

    # ---------------------------------------------------------------- generator step
    def g_step(self, source: Tensor, targets: Tensor | None = None) -> Stats:
        st = self.cfg.style
        ids, labels = self._split(source)
        targets = self.other_styles(labels) if targets is None else targets
        z, memory = self.G.encode_all(ids)
        rec = self.G.reconstruction_nll(ids, z, labels, memory)
        loss, terms = st.rec_weight * rec, {"reconstruction loss": rec}
        stats: Stats = {"loss/rec": rec.detach()}
        soft = (soft_pad_mask(self.G.soft_decode(z, targets, self.tau, memory=memory))
                if st.style_weight > 0 or self.sentence else None)
        if st.style_weight > 0:
            assert soft is not None
            was = self.C.training
            self.C.eval()  # guidance without dropout; C's weights are not stepped here
            try:
                logits = self.C(soft)
            finally:
                self.C.train(was)
            style = F.cross_entropy(logits, targets)
            loss, terms["style loss"] = loss + st.style_weight * style, style
            stats["loss/style"] = style.detach()
            stats["style/soft_transfer_accuracy"] = (
                logits.detach().argmax(1) == targets).float().mean()
        if st.adv_weight > 0:
            scores = self.critic_scores(z, "fake")
            sign = None
            if self.adversary == "style":
                stats["adversary/accuracy"] = self.adversary_accuracy(scores.detach(), labels)
                scores, sign = self.encoder_view(scores, labels)
            log_r = None
            if self.ratio is not None:
                log_r = self.ratio.log_ratio(z)
                if sign is not None:
                    log_r = sign * log_r
            real = (self.critic_scores(self.pair.real(z.shape[0]), "real").detach()
                    if self.objective.relativistic else None)
            adv, more = self.adversarial_term(scores, log_r, real)
            loss, terms["adversarial loss"] = loss + st.adv_weight * adv, adv
            stats.update(more)
            stats["loss/adv"] = adv.detach()
            stats["critic/g_fake"] = scores.detach().mean()
        if self.sentence and st.sentence_weight > 0:
            assert soft is not None
            stats.update(self.sentence_steps(soft, targets))
            scores = self.S(soft, targets)
            log_r = (self.sentence_ratio.log_ratio(soft, targets)
                     if self.sentence_ratio is not None else None)
            real = (self.S(self.real_sentences(targets), targets).detach()
                    if self.objective.relativistic else None)
            adv, more = self.adversarial_term(scores, log_r, real)
            loss, terms["sentence adversarial loss"] = loss + st.sentence_weight * adv, adv
            stats.update({"sentence/" + k.replace("/", "_"): v for k, v in more.items()})
            stats["loss/sentence_adv"] = adv.detach()
            stats["sentence/g_fake"] = scores.detach().mean()
        stats["grad/g_norm"] = self.step("G", loss, terms)
        stats["loss/g"] = loss.detach()
        return stats

    def encoder_view(self, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The style adversary's scores of codes of style ``labels`` as the encoder (the
        generator of both sides) sees them: real-side codes' scores mirrored, the others as
        they are; and the sign (-1 real side, +1 fake side) of each code's log-ratio."""
        real_side = labels == self.pair.real_style  # type: ignore[union-attr]
        return (torch.where(real_side, self.mirror(scores), scores),
                1.0 - 2.0 * real_side.to(scores.dtype))

    def mirror(self, scores: Tensor) -> Tensor:
        """Scores of the game with real and fake swapped: ``-s`` (``1 - s`` for least squares,
        whose targets are 1 and 0), so that ``d_loss(s_r, s_f) = d_loss(m(s_f), m(s_r))``."""
        return 1.0 - scores if self.objective.loss == "least_squares" else -scores

    def adversary_accuracy(self, scores: Tensor, labels: Tensor) -> Tensor:
        """The style adversary's balanced accuracy (mean of the two styles' recalls) on codes
        with ``scores`` and style ``labels``: a code is called real-side when its score is above
        the decision threshold, 0 for the logistic and hinge losses, 0.5 for least squares, and
        for a Wasserstein critic (whose offset is arbitrary) halfway between the two styles'
        mean scores. Chance is 0.5."""
        real_side = labels == self.pair.real_style  # type: ignore[union-attr]
        both = bool(real_side.any()) and bool((~real_side).any())
        loss = self.objective.loss
        if loss == "wasserstein" and both:
            threshold = 0.5 * (scores[real_side].mean() + scores[~real_side].mean())
        else:
            threshold = torch.tensor(0.5 if loss == "least_squares" else 0.0)
        correct = (scores > threshold) == real_side
        recalls = [correct[side].float().mean() for side in (real_side, ~real_side)
                   if bool(side.any())]
        return torch.stack(recalls).mean()

    def adversarial_term(self, scores: Tensor, log_r: Tensor | None = None,
                         real: Tensor | None = None) -> tuple[Tensor, Stats]:
        """The generator's adversarial loss on critic scores of its codes or sentences (see the
        module doc): minus the clipped surrogate when ``log_r`` (ratio clipping) is given, else
        the objective's loss, with the authors' importance weights under
        ``style.importance=softmax``; ``real``: real scores (relativistic losses only)."""
        v, stats = self.cfg.variational, {}
        if log_r is not None:
            return clipped_loss(log_r, advantage(scores, v.advantage), v.eps, v.clip_mode,
                                ratio_gradient=v.ratio_gradient)
        if self.cfg.style.importance == "softmax":
            w = importance_weights(scores, v.temperature)
            stats["weights/g_ess"] = effective_sample_size(w)
            return (w * self.objective.g_per_sample(scores, real)).mean(), stats
        return self.objective.g_loss(scores, real), stats

    def extra_state(self) -> dict[str, Any]:
        state = super().extra_state()
        state["tau"] = self.tau
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.tau = float(state.get("tau", self.tau))
