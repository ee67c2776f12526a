"""The classic GAN iteration as two phases, composed from small pieces.

``d_step``: one critic update::

    x_r ~ data, x_f = G(z).detach() [-> replay mix] ; both -> augment
    L_D = objective.d_loss(D(x_r), D(x_f), w) [+ lambda GP] [+ lambda_2 CT] ; step ; [clip weights]

``g_step``: one generator update::

    x_f = G(z) -> augment ; s = D(x_f)  (or D with k unrolled SGD steps)
    L_G = objective.g_loss(s) [+ beta * feature matching] ; step

One iteration (``iteration``) is ``n_critic`` critic steps and then the generator phase
(``n_gen`` steps); ``phases`` lists the method's phases for the trainer (an optional warm-up, then
the adversarial phase) and ``updates_per_iteration`` what one iteration costs in minibatch
updates. Real and fake batches come from the adversarial pair (``methods.pair``), real batches
and the prior from the task: nothing here depends on the modality.

A subclass changes the maths by overriding ``generator_loss`` (see ``methods.ppo``). Every network
a method owns is listed in ``networks`` and ``optimizers``, so the trainer optimises, checkpoints
and logs it without knowing what it is.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

import stablegan.lipschitz as lipschitz
from stablegan.config import Config
from stablegan.core import ranks
from stablegan.core.finite import all_finite
from stablegan.core.phases import ADVERSARIAL, Phase, Stats, average
from stablegan.errors import ConfigError, ShapeError
from stablegan.methods.pair import DataPair
from stablegan.objectives import Objective, feature_matching_loss, per_sample
from stablegan.tricks import DiffAugment, ReplayBuffer, unrolled_parameters
from stablegan.variational import effective_sample_size, importance_weights


class NonFiniteError(RuntimeError):
    """A loss, gradient or weight became NaN/inf: which network, which term."""

    def __init__(self, network: str, term: str, detail: str = "") -> None:
        self.network, self.term = network, term
        super().__init__(f"non-finite {term} in network {network}{': ' + detail if detail else ''}")


class GANMethod:
    """Owns the maths of one iteration and the networks and optimisers it needs."""

    def __init__(self, cfg: Config, generator: nn.Module, discriminator: nn.Module,
                 task: Any, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.task = task
        self.data = task.data
        self.G = generator.to(self.device)
        self.D = discriminator.to(self.device)
        self.latent_dim = _latent_dim(generator)
        o = cfg.objective
        self.objective = Objective(o.loss, o.label_smoothing, o.label_noise, o.label_noise_mode)
        self.augment = DiffAugment(cfg.augment.policy, cfg.augment.probability)
        self.replay = (ReplayBuffer(cfg.replay.size, cfg.replay.fraction)
                       if cfg.replay.size else None)
        if cfg.lipschitz.spectral_norm:
            lipschitz.apply_spectral_norm(self.D)
        self.networks: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.base_lr: dict[str, float] = {"G": cfg.optim.g_lr, "D": cfg.optim.d_lr}
        self.optimizers: dict[str, torch.optim.Optimizer] = {
            "G": self._adam(self.G, cfg.optim.g_lr), "D": self._adam(self.D, cfg.optim.d_lr)}
        self.counts = {"D": 0, "G": 0}
        self.freeze_critics = True  # see frozen_critics (False: the earlier, slower graph)
        self.pair = DataPair(self)
        # speed options: autocast dtype, a GradScaler per network for fp16 (GPU only)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.optim.precision)
        self.scalers: dict[str, Any] = {}
        self.channels_last = cfg.model.channels_last and any(
            isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in self.D.modules())
        if cfg.model.channels_last:
            for net in (self.G, self.D):
                net.to(memory_format=torch.channels_last)
        if cfg.pretrain.steps:
            if not callable(getattr(self.G, "log_prob", None)):
                raise ConfigError(f"pretrain.steps needs a generator with log_prob(x); "
                                  f"{type(self.G).__name__} has none",
                                  hint="use a likelihood generator (model.name relgan or lstm "
                                       "for text) or set pretrain.steps=0")
            self.base_lr["G_mle"] = cfg.pretrain.lr
            self.optimizers["G_mle"] = self._adam(self.G, cfg.pretrain.lr)

    # ---------------------------------------------------------------- schedule
    @classmethod
    def updates_per_iteration(cls, cfg: Config) -> int:
        """Minibatch updates of all networks in one iteration: n_critic + n_gen."""
        return cfg.schedule.n_critic + cfg.schedule.n_gen

    def phases(self, steps: int) -> list[Phase]:
        """MLE pre-training (``pretrain.steps``, when set), the warm-up (``schedule.d_warmup``
        critic steps, when set), then ``steps`` adversarial iterations."""
        self.adversarial_steps = steps
        out = []
        if self.cfg.pretrain.steps:
            out.append(Phase("pretrain", self.cfg.pretrain.steps, self.pretrain_step, ("G",)))
        if self.warmup_steps():
            out.append(Phase("warmup", self.warmup_steps(), self.warmup_step,
                             tuple(self.networks)))
        out.append(Phase(ADVERSARIAL, steps, self.iteration, tuple(self.networks)))
        return out

    def iteration(self, index: int = 0, diagnostics: bool = False) -> Stats:
        """``n_critic`` critic steps, then the generator phase; the steps' stats averaged."""
        n_critic = self.cfg.schedule.n_critic
        self.task.before_iteration(self, index, getattr(self, "adversarial_steps", 0))
        d_stats = [self.d_step(diagnostics and k == n_critic - 1) for k in range(n_critic)]
        return average(d_stats + self.g_phase(diagnostics))

    def warmup_steps(self) -> int:
        return self.cfg.schedule.d_warmup

    def warmup_step(self, index: int, diagnostics: bool = False) -> Stats:
        """Warm-up step ``index``: a critic step against the initial generator."""
        return self.d_step(diagnostics)

    def pretrain_step(self, index: int, diagnostics: bool = False) -> Stats:
        """One maximum-likelihood step of G (teacher forcing for text): minimise the NLL per
        dimension, ``-mean log p(x) / dim(x)``, on a data batch, with its own optimiser."""
        x = self.data.sample(self.batch_size).to(self.device)
        nll = -self.G.log_prob(x).mean() / x[0].numel()
        norm = self.step("G", nll, {"maximum-likelihood loss": nll}, optimizer="G_mle")
        return {"loss/g": nll.detach(), "grad/g_norm": norm}

    # ---------------------------------------------------------------- helpers
    def _adam(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(net.parameters(), lr=lr, betas=tuple(self.cfg.optim.betas))

    def add_network(self, name: str, net: nn.Module, lr: float) -> None:
        """A further trained network (a ratio classifier, a sentence critic): its Adam at
        ``lr``, its learning-rate schedule and its update count."""
        self.networks[name] = net
        self.base_lr[name] = lr
        self.optimizers[name] = self._adam(net, lr)
        self.counts[name] = 0

    def divide_generator_lr(self) -> None:
        """``variational.classifier_lr_divide`` (the authors' code): G at ``optim.g_lr /
        schedule.n_gen``, as the ratio classifiers (:func:`~stablegan.methods.ratio.classifier_lr`),
        so that a phase of n_gen steps moves G about as far as one plain step."""
        if self.cfg.variational.classifier_lr_divide:
            self.base_lr["G"] = self.cfg.optim.g_lr / self.cfg.schedule.n_gen
            self.set_lr(1.0)

    def sample_z(self, n: int) -> Tensor:
        return self.pair.source(n)

    def real_batch(self) -> Tensor:
        return self.pair.real()

    @property
    def batch_size(self) -> int:
        """This process's batch: ``data.batch_size`` (the global batch) / the number of
        data-parallel processes."""
        return ranks.local_batch(self.cfg.data.batch_size)

    def autocast(self) -> Any:
        """The mixed-precision context of forward passes (``optim.precision``)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def full_precision(self) -> Any:
        """fp32 inside an autocast region (the gradient penalty)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, enabled=False)

    def eager_critic(self) -> Any:
        """D without torch.compile (double backward of the penalty; compiled code has none)."""
        return getattr(self.D, "_stablegan_eager", self.D)

    def step(self, name: str, loss: Tensor, terms: dict[str, Tensor],
             max_norm: float | None = None, optimizer: str | None = None, *,
             norm: bool = True) -> Tensor | None:
        """Back-propagate, average the gradient over data-parallel ranks, clip its norm, check
        that every term and the gradient are finite, and only then take a step of network
        ``name`` with its optimiser (or the one named ``optimizer``). Returns the gradient norm
        before clipping (a 0-d tensor: no host sync beyond the one finiteness check); with
        ``norm=False`` (a caller that does not log it) and nothing that needs it (no clipping,
        fp16 scaler or data-parallel ranks) the norm is not computed and None is returned: the
        gradients' finiteness is then checked on their sums."""
        opt = self.optimizers[optimizer or name]
        names = list(terms)
        opt.zero_grad(set_to_none=True)
        scaler = self._scaler(name) if self.amp_dtype == torch.float16 else None
        (scaler.scale(loss) if scaler is not None else loss).backward()
        params = [p for p in self._parameters(name) if p.grad is not None]
        bad_terms = None
        if ranks.active():  # one all-reduce: the gradients and every rank's term flags
            flags = torch.stack([~torch.isfinite(v.detach()).all() for v in terms.values()]) \
                if terms else torch.zeros(0, dtype=torch.bool, device=loss.device)
            bad_terms = ranks.all_reduce_grads(params, flags.float()) > 0.5
        if scaler is not None:
            scaler.unscale_(opt)
        clip = self.cfg.optim.grad_clip if max_norm is None else max_norm
        total = (grad_norm(params, clip) if norm or clip > 0 or scaler is not None
                 or bad_terms is not None else None)
        if bad_terms is not None:
            suspect = bool(bad_terms.any() | ~torch.isfinite(total))
        else:  # the step's one host sync: the norm (or the gradients' sums) and each term's
            # sum, all finite?
            first = [total.detach()] if total is not None else [p.grad.sum() for p in params]
            suspect = not bool(torch.isfinite(torch.stack(first + [
                v.detach() if v.dim() == 0 else v.detach().sum() for v in terms.values()])).all())
        if suspect:  # which term, or the gradient (a sum that merely overflowed passes)
            found = (bad_terms.tolist() if bad_terms is not None else
                     [not bool(torch.isfinite(v.detach()).all()) for v in terms.values()])
            term = next((t for t, b in zip(names, found) if b), None)
            if term is not None:
                raise NonFiniteError(name, term)
            finite = (bool(torch.isfinite(total)) if total is not None else
                      all_finite([p.grad for p in params]))
            if scaler is None and not finite:
                raise NonFiniteError(name, "gradient")
            # fp16 overflow: the scaler skips this step and lowers its scale
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        self.counts[name] += 1
        return total.detach() if total is not None else None

    def _parameters(self, name: str) -> list[nn.Parameter]:
        """Network ``name``'s parameters, listed once (again if the network is replaced)."""
        cache = self.__dict__.setdefault("_param_lists", {})
        net = self.networks[name]
        if name not in cache or cache[name][0] is not net:
            cache[name] = (net, list(net.parameters()))
        return cache[name][1]

    def _scaler(self, name: str) -> Any:
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type)
        return self.scalers[name]

    def set_lr(self, scale: float) -> None:
        """Every optimiser at ``scale`` times its base learning rate (decay, rollbacks)."""
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * scale

    def critic_scores(self, x: Tensor, name: str) -> Tensor:
        scores = self.D(x)
        k = int(getattr(self.D, "scores_per_sample", 1))  # RelGAN's D: one per representation
        if scores.dim() == 2 and scores.shape[1] == 1 and k == 1:
            scores = scores[:, 0]
        want = (x.shape[0],) if k == 1 else (x.shape[0], k)
        if tuple(scores.shape) != want:
            raise ShapeError(
                f"the discriminator returned shape {tuple(scores.shape)} for a {name} batch of "
                f"{x.shape[0]}; expected {want}" + (f" or ({x.shape[0]}, 1)" if k == 1 else ""),
                hint="the discriminator must map each sample to one score (a discriminator "
                     "with K scores per sample declares scores_per_sample = K)")
        return scores

    # ---------------------------------------------------------------- critic phase
    def importance_weights(self, s_fake: Tensor, stats: Stats) -> Tensor:
        """Eq. 8's weights of this process's fakes. Under data-parallel training with
        ``dist.global_weights`` (default) the softmax runs over the fake scores of the GLOBAL
        batch (all-gathered), so each rank gets its slice of the weights one process would
        compute; otherwise over each rank's slice alone."""
        scores, T = per_sample(s_fake).detach(), self.cfg.variational.temperature
        if ranks.active() and self.cfg.dist.global_weights:
            w_all = importance_weights(ranks.all_gather_cat(scores), T)
            weights = w_all.reshape(ranks.world_size(), -1)[ranks.rank()]
            stats["weights/ess"] = effective_sample_size(w_all)
            stats["weights/max"] = w_all.max()
            return weights
        weights = importance_weights(scores, T)
        # per rank: the ESS of the union of the ranks' batches (the mean over ranks x world)
        stats["weights/ess"] = effective_sample_size(weights) * ranks.world_size()
        stats["weights/max"] = weights.max()
        return weights

    def d_step(self, diagnostics: bool = False) -> Stats:
        cfg = self.cfg
        real = self.pair.real()
        with self.autocast():
            with torch.no_grad():
                fake = self.pair.fake(self.pair.source(real.shape[0]))
            if self.replay is not None:
                fake = self.replay.mix(fake)
            real_in, fake_in = self.augment(real), self.augment(fake)
            s_real = self.critic_scores(real_in, "real")
            s_fake = self.critic_scores(fake_in, "fake")
            stats: Stats = {}
            weights = None
            if cfg.variational.reweight:
                weights = self.importance_weights(s_fake, stats)
            adv = self.objective.d_loss(s_real, s_fake, weights)
        terms = {"adversarial loss": adv}
        loss = self.critic_terms(adv, terms, stats)
        gp_cfg = cfg.lipschitz.gradient_penalty
        # lazy regularisation: the penalty on every k-th critic step, weighted k * lambda
        if gp_cfg.weight > 0 and self.counts["D"] % gp_cfg.every == 0:
            with self.full_precision():  # the penalty in fp32, on the eager critic
                gp, norms = lipschitz.gradient_penalty(
                    self.eager_critic(), dense_like(real_in, fake_in).float(), fake_in.float(),
                    gp_cfg.target, gp_cfg.one_sided)
            terms["gradient penalty"] = gp
            loss = loss + (gp_cfg.weight * gp_cfg.every) * gp
            stats["lipschitz/gp"] = gp.detach()
            stats["lipschitz/grad_norm_interp"] = norms.mean()
        ct_cfg = cfg.lipschitz.consistency
        if ct_cfg.weight > 0:
            with self.autocast():
                ct = lipschitz.consistency_term(self.D, real_in, ct_cfg.feature_weight,
                                                ct_cfg.margin)
            terms["consistency term"] = ct
            loss = loss + ct_cfg.weight * ct
            stats["lipschitz/ct"] = ct.detach()
        if diagnostics:
            with self.full_precision():
                norms = lipschitz.input_gradient_norm(self.D, fake_in.float(), create_graph=False)
            stats["grad/d_fake_norm"] = norms.mean()
        self.step("D", loss, terms, norm=False)
        if cfg.lipschitz.weight_clip > 0:
            lipschitz.clip_weights(self.D, cfg.lipschitz.weight_clip)
        stats["loss/d"] = loss.detach()
        m_real, m_fake = s_real.detach().mean(), s_fake.detach().mean()
        stats["critic/real"] = m_real
        stats["critic/fake"] = m_fake
        stats["critic/wasserstein_estimate"] = m_real - m_fake
        return stats

    # ---------------------------------------------------------------- generator phase
    def g_phase(self, diagnostics: bool = False) -> list[Stats]:
        """``n_gen`` generator steps (optionally on one latent batch)."""
        z = self.sample_z(self.batch_size) if self.cfg.schedule.same_z_for_gen_steps else None
        self.begin_generator_phase(z)
        out = []
        for _ in range(self.cfg.schedule.n_gen):
            out.append(self.g_step(z if z is not None else self.sample_z(self.batch_size)))
        return out

    def begin_generator_phase(self, z: Tensor | None) -> None:
        """Hook for methods that record the old generator (ratio estimation)."""

    def g_step(self, z: Tensor) -> Stats:
        with self.autocast(), self.frozen_critics():
            fake = self.pair.fake(z)
            self.task.check_fake(fake)
            loss, terms, stats = self.generator_loss(z, fake)
        stats["grad/g_norm"] = self.step("G", loss, terms)
        stats["loss/g"] = loss.detach()
        return stats

    @contextlib.contextmanager
    def frozen_critics(self) -> Any:
        """The generator step's forward with every other network's parameters (D, and C when
        there is one; not those G shares) at ``requires_grad=False``: autograd then builds no
        weight-gradient branch for them, while G's gradient (which flows through their inputs)
        is the same computation, bit for bit (tested). The previous flags come back on exit.
        Off (``freeze_critics = False``) with unrolled D steps, which differentiate D's
        parameters."""
        if not self.freeze_critics or self.cfg.unrolled.steps > 0:
            yield
            return
        own = {id(p) for p in self.G.parameters()}
        frozen = [p for name, net in self.networks.items() if name != "G"
                  for p in net.parameters() if p.requires_grad and id(p) not in own]
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in frozen:
                p.requires_grad_(True)

    def generator_loss(self, z: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, Tensor], Stats]:
        cfg = self.cfg
        fake_in = self.augment(fake)
        stats: Stats = {}
        fm_weight = cfg.objective.feature_matching
        if cfg.unrolled.steps > 0:
            lr = cfg.unrolled.lr or self.optimizers["D"].param_groups[0]["lr"]
            reals = [self.augment(self.real_batch()) for _ in range(cfg.unrolled.steps)]
            params = unrolled_parameters(self.D, self.objective.d_loss, reals, fake_in, lr)
            scores = functional_call(self.D, params, (fake_in,)).reshape(-1)
        elif fm_weight > 0:
            scores, feats_fake = lipschitz.critic_features(self.D, fake_in)
        else:
            scores = self.critic_scores(fake_in, "fake")
        loss = torch.zeros((), device=self.device)
        terms: dict[str, Tensor] = {}
        if not cfg.objective.feature_matching_only:
            real_scores = (self.critic_scores(self.augment(self.real_batch()), "real").detach()
                           if self.objective.relativistic else None)
            adv = self.objective.g_loss(scores, real_scores)
            terms["adversarial loss"] = adv
            loss = loss + adv
        if fm_weight > 0:
            if cfg.unrolled.steps > 0:
                _, feats_fake = lipschitz.critic_features(self.D, fake_in)
            _, feats_real = lipschitz.critic_features(self.D, self.augment(self.real_batch()))
            fm = feature_matching_loss(feats_real, feats_fake)
            terms["feature matching"] = fm
            loss = loss + fm_weight * fm
            stats["loss/feature_matching"] = fm.detach()
        loss = self.generator_terms(loss, terms, stats)
        stats["critic/g_fake"] = scores.detach().mean()
        return loss, terms, stats

    def critic_terms(self, loss: Tensor, terms: dict[str, Tensor], stats: Stats) -> Tensor:
        """Hook: further critic-loss terms on this step's scores (AC-GAN's class loss,
        ``methods.conditional``); none here."""
        return loss

    def generator_terms(self, loss: Tensor, terms: dict[str, Tensor], stats: Stats) -> Tensor:
        """Hook: further generator-loss terms (AC-GAN's class loss); none here."""
        return loss

    def evaluation_models(self) -> dict[str, nn.Module]:
        """The networks besides the generator that the evaluation's metrics may ask for by
        name (``ctx.opts["models"]``); none here (the style method: its own classifier)."""
        return {}

    # ---------------------------------------------------------------- state
    def extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"counts": dict(self.counts)}
        if self.replay is not None:
            state["replay"] = self.replay.state_dict()
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.counts.update(state.get("counts", {}))
        if self.replay is not None and "replay" in state:
            self.replay.load_state_dict(state["replay"])


def dense_like(x: Tensor, like: Tensor) -> Tensor:
    """``x`` in the dense form of ``like``: integer category ids (B, ...) become one-hots over
    ``like``'s last axis, in its dtype (text: real sentences as ids beside relaxed one-hot
    fakes, for the interpolates of the gradient penalty); anything else is returned as is."""
    if x.is_floating_point() or not like.is_floating_point() or x.dim() + 1 != like.dim():
        return x
    return torch.nn.functional.one_hot(x.long(), like.shape[-1]).to(like.dtype)


def grad_norm(params: list[nn.Parameter], clip: float) -> Tensor:
    """The 2-norm of the gradients of ``params`` before clipping; with ``clip`` > 0 they are
    scaled to norm at most ``clip`` (``clip_grad_norm_``). Without clipping only the norm is
    computed (``clip_grad_norm_`` with an infinite bound would multiply every gradient by 1)."""
    if clip > 0:
        return torch.nn.utils.clip_grad_norm_(params, clip)
    grads = [p.grad for p in params if p.grad is not None]
    if grads and all(g.dtype == grads[0].dtype and g.device == grads[0].device for g in grads):
        # clip_grad_norm_'s own arithmetic for one device and dtype (per-tensor norms, then the
        # norm of those), without its grouping and dispatch in Python: the same number
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    return torch.nn.utils.clip_grad_norm_(params, float("inf"))


def _latent_dim(generator: nn.Module) -> int:
    dim = getattr(generator, "latent_dim", None)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
        raise ShapeError(
            f"{type(generator).__name__} has no integer attribute 'latent_dim'",
            hint="set generator.latent_dim = <size of z> so stablegan can sample z ~ N(0, I)")
    return dim
