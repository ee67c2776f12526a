"""The :class:`Task` seam: everything that depends on what the data *is*.

A task wraps a :class:`~stablegan.data.DataSource` and answers, for its modality:

* how real batches and the prior are drawn (:meth:`real_batch`, :meth:`prior`) and what the
  critic sees of an evaluation sample (:meth:`critic_view`);
* which default networks fit the data (:meth:`build_models`, :meth:`build_classifier`);
* the sanity checks on data and generated samples (:meth:`check_fake`, :meth:`watch_samples`);
* how samples are shown to a person (:meth:`render`, :attr:`n_display`, :attr:`sample_suffix`)
  and turned into their evaluation form (:meth:`to_eval`: token ids for text);
* evaluation: the sample sets (:meth:`eval_sets`), the default metrics (:meth:`default_metrics`),
  the pre-flight check of the eval settings (:meth:`preflight`), the keys it can produce
  (:meth:`possible_keys`) and the metrics themselves (:meth:`metrics`).

Nothing outside a task asks which modality the data is. New modalities subclass :class:`Task`
and call :func:`stablegan.tasks.register_task`; the base class already evaluates any registered
metric generically (:meth:`metrics`), so a task with no special needs only says how to render.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

import stablegan.tasks.conditional as cond
from stablegan.errors import ConfigError, DataError, ShapeError
from stablegan.metrics.registry import (
    Context,
    Side,
    expand,
    get_metric,
    groups,
    largest_unmet_minimum,
)
from stablegan.models import (
    build_classifier,
    build_conditional_classifier,
    build_conditional_models,
    build_models,
)

Sampler = Any  # Callable[[int], Tensor]: n samples of the generator in evaluation form


@dataclass
class EvalSets:
    """The sample sets of one evaluation (see ``stablegan.evaluation``)."""

    fake: Tensor
    ref: Tensor
    floor: Tensor
    held: Tensor | None
    m: int  # samples per set
    n: int  # samples asked for
    notes: list[str] = field(default_factory=list)
    generator: Any = None  # the generator evaluated, for metrics that need it (NLL of the test set)
    # the method's other networks that metrics ask for by name (method.evaluation_models(), e.g.
    # the style model's own classifier for own_accuracy); in the metrics' ctx.opts["models"]
    models: dict[str, Any] = field(default_factory=dict)


class Task:
    """The base task: samples are tensors of ``data.sample_shape``, drawn from a Gaussian prior."""

    name: ClassVar[str] = "base"
    n_display: ClassVar[int] = 64  # samples in the fixed-noise display of training progress
    sample_batch: ClassVar[int] = 1000  # generator batch when sampling for evaluation
    sample_suffix: ClassVar[str] = ".png"
    #: whether the discriminator's score on training vs held-out reals is worth logging
    overfit_check: ClassVar[bool] = False
    #: whether the final evaluation draws nearest_pairs.png (memorisation, as pictures)
    shows_nearest_pairs: ClassVar[bool] = False
    #: the name of the samples' own coordinates as a feature space in metric keys (None: plain
    #: keys such as ``swd``)
    coordinate_space: ClassVar[str | None] = None
    #: whether a domain classifier (``stablegan classifier train``) can serve as feature space
    domain_classifier: ClassVar[bool] = False

    def __init__(self, data: Any, cfg: Any) -> None:
        self.data = data
        self.cfg = cfg
        # class-conditional (stablegan.tasks.conditional): labelled data, G's class prior
        self.num_classes: int | None = None
        if cond.is_conditional(cfg):
            self.num_classes = cond.check_labelled(data, cfg)
            self.class_probs = cond.class_prior(data, cfg, self.num_classes)
            self.n_display = cond.class_grid_size(self.num_classes)  # type: ignore[misc]

    @property
    def conditional(self) -> bool:
        """Whether G and D see the class (``conditional.*``)."""
        return self.num_classes is not None

    def labelled_batch(self, n: int) -> tuple[Tensor, Tensor]:
        """A training batch with its int64 labels (conditional GANs)."""
        return self.data.sample_labelled(n)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` labels from the class prior G is trained with (CPU)."""
        return cond.sample_labels(self.class_probs, n, generator)

    def class_prior_draw(self, n: int, latent_dim: int, labels: Tensor,
                         device: torch.device | str = "cpu",
                         generator: torch.Generator | None = None) -> Tensor:
        """``pack(z, labels)``: conditional samples of the given classes."""
        assert self.num_classes is not None
        return cond.packed_prior(n, latent_dim, labels, self.num_classes, device, generator)

    # ------------------------------------------------------------------ drawing
    def real_batch(self, n: int) -> Tensor:
        """A training batch as the critic sees it (CPU)."""
        return self.data.sample(n)

    def prior(self, n: int, latent_dim: int, device: torch.device | str = "cpu",
              generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of the generator's input, z ~ N(0, I). Conditional: ``pack(z, y)`` with
        y from the class prior, or class by row for the fixed display noise (``generator``)."""
        if self.num_classes is not None:
            y = (cond.display_labels(self.num_classes, n) if generator is not None
                 else self.sample_labels(n))
            return self.class_prior_draw(n, latent_dim, y, device, generator)
        if generator is not None:
            return torch.randn(n, latent_dim, generator=generator).to(device)
        return torch.randn(n, latent_dim, device=device)

    def critic_view(self, x: Tensor) -> Tensor:
        """What the critic sees of samples in evaluation form (identity; one-hots for text)."""
        return x

    def to_eval(self, x: Tensor) -> Tensor:
        """A generated batch in evaluation form (identity; token ids for text)."""
        return x

    # ------------------------------------------------------------------ models
    def build_models(self, model_cfg: Any) -> tuple[nn.Module, nn.Module]:
        if self.num_classes is not None:
            return build_conditional_models(model_cfg, self.cfg.conditional,
                                            tuple(self.data.sample_shape), self.num_classes)
        return build_models(model_cfg, tuple(self.data.sample_shape))

    def build_classifier(self, model_cfg: Any) -> nn.Module:
        if self.num_classes is not None:  # the ratio classifier conditioned on y
            return build_conditional_classifier(model_cfg, tuple(self.data.sample_shape),
                                                self.num_classes)
        return build_classifier(model_cfg, tuple(self.data.sample_shape))

    # ------------------------------------------------------------------ checks
    def check_fake(self, fake: Tensor) -> None:
        """ShapeError unless generated samples have the data's per-sample shape."""
        shape = tuple(self.data.sample_shape)
        if tuple(fake.shape[1:]) != shape:
            raise ShapeError(
                f"the generator produced samples of shape {tuple(fake.shape[1:])} but the data "
                f"'{self.data.name}' has shape {shape}",
                hint="make the generator output match the data (or pick another model)")

    def before_iteration(self, method: Any, index: int, total: int) -> None:
        """Hook before adversarial iteration ``index`` of ``total`` (text: the Gumbel-softmax
        temperature); default none."""

    def watch_samples(self, fake: Tensor, step: int) -> None:
        """Hook for warnings about generated samples early in training (default: none)."""

    # ------------------------------------------------------------------ people
    def render(self, samples: Tensor, path: Path, title: str = "") -> None:
        """Write ``samples`` (evaluation form) for a person to look at."""
        raise NotImplementedError(f"task '{self.name}' cannot render samples")

    def sample_lines(self, samples: Tensor) -> list[str] | None:
        """Samples as lines of text for a terminal or a report (text), or None."""
        return None

    # ------------------------------------------------------------------ evaluation
    def eval_sets(self, sampler: Sampler, n: int) -> EvalSets:
        """``m`` fakes and two disjoint real sets of ``m`` (reference, floor), plus held-out reals.

        Infinite data: ``m = n``, fresh train reals as the reference, held-out reals as the
        floor. Finite data: ``m = min(n, N_train // 2)`` and two disjoint halves of the
        training items.
        """
        data, notes = self.data, []
        if data.size is None:
            m = n
            ref, floor, held = data.reals(m, "train"), data.reals(m, "holdout"), None
        else:
            pool = data.reals(2 * n, "train")
            m = min(n, len(pool) // 2)
            ref, floor = pool[:m], pool[m:2 * m]
            held = data.reals(m, "holdout")
            if m < n:
                notes.append(f"{m} samples per set instead of {n}: data '{data.name}' has "
                             f"{data.size} training items, split into two disjoint halves for "
                             "the floor")
        if m < 1:
            raise DataError(f"data '{data.name}' has too few training items ({data.size}) to "
                            "evaluate", hint="the floor needs two disjoint halves of at least "
                                             "one item each")
        fake = sampler(m).detach().cpu()
        self.check_eval_samples(fake, ref)
        if held is not None and len(held) < 2:
            held = None
        return EvalSets(fake, ref, floor, held, m, n, notes)

    def check_eval_samples(self, fake: Tensor, ref: Tensor) -> None:
        """ShapeError / DataError when generated samples cannot be compared with the data."""
        want = tuple(int(s) for s in self.data.sample_shape)
        got = tuple(fake.shape[1:])
        if got != want or tuple(ref.shape[1:]) != want:
            raise ShapeError(
                f"the generator produced {self.describe_shape_mismatch(got, want)} (per-sample "
                f"shape {got}) but the real data '{self.data.name}' has per-sample shape "
                f"{want}; they cannot be compared",
                hint="evaluate the run with the data it was trained on (data.* in its "
                     "config.yaml)")
        if fake.is_floating_point():
            bad = int((~torch.isfinite(fake)).sum())
            if bad:
                raise DataError(
                    f"the generator produced {bad} NaN/inf value(s) in {fake.shape[0]} samples, "
                    "so no metric can be computed",
                    hint="the generator diverged: evaluate an earlier checkpoint ('stablegan "
                         "eval --checkpoint best.pt') or retrain with lower learning rates")

    def describe_shape_mismatch(self, got: tuple[int, ...], want: tuple[int, ...]) -> str:
        return "samples"

    def default_metrics(self, ecfg: Any) -> list[str]:
        """The metrics evaluated when ``eval.metrics`` is empty."""
        return ["swd"]

    def wanted_metrics(self, ecfg: Any) -> list[str]:
        return expand(ecfg.metrics, "eval.metrics") or self.default_metrics(ecfg)

    def preflight(self, ecfg: Any, run_dir: Path | None) -> None:
        """ConfigError for eval settings this task cannot honour (checked before step 1)."""
        for name in expand(ecfg.metrics, "eval.metrics"):
            self.check_metric_applies(name)

    def check_metric_applies(self, name: str) -> None:
        needs = get_metric(name).needs
        if needs == "modes" and getattr(self.data, "modes", None) is None:
            raise ConfigError(f"eval.metrics asks for 'modes' but data '{self.data.name}' has "
                              "no known modes", hint="'modes' is for toy mixtures (ring, grid)")

    def possible_keys(self, ecfg: Any) -> set[str]:
        """Every numeric key an evaluation can produce (without ``floor/``)."""
        ctx = Context(self.coordinate_space)
        keys: set[str] = set()
        for name in self.wanted_metrics(ecfg):
            metric = get_metric(name)
            keys.update(k if metric.needs == "modes" else ctx.key(k) for k in metric.output_keys)
        return keys

    def metric_options(self, ecfg: Any) -> dict[str, Any]:
        return {"k": int(ecfg.k), "seed": 0, "swd_projections": 128, "is_splits": 10,
                "kid_subsets": 100, "kid_subset_size": None, "memorisation_threshold": None,
                "memorisation_percentile": 1.0, "num_classes": None, "class_min_count": 1,
                "class_eps": 1e-6}

    def metrics(self, sets: EvalSets, ecfg: Any, *, run_dir: Path | None = None,
                device: str = "cpu", final: bool = True) -> dict[str, Any]:
        """Every wanted metric on ``sets``, generically: features are the flattened samples
        in the data's own coordinates (plain keys), each value repeated as ``floor/<key>``
        with the floor set in place of the fakes."""
        wanted = self.wanted_metrics(ecfg)
        ctx = Context(self.coordinate_space, self.metric_options(ecfg), task=self,
                      notes=sets.notes)
        ctx.opts["generator"] = sets.generator
        ctx.opts["models"] = sets.models
        self.check_counts(wanted, sets, ctx.opts)
        sides = {key: self.side(key, x) for key, x in (("fake", sets.fake), ("ref", sets.ref),
                                                        ("floor", sets.floor))}
        out: dict[str, Any] = {}
        for metric, members in groups(wanted):
            ctx.opts["wanted"] = members
            out.update(metric.compute(sides["fake"], sides["ref"], ctx))
            if metric.floor:
                out.update({f"floor/{k}": v for k, v in
                            metric.compute(sides["floor"], sides["ref"], ctx).items()})
        return out

    def side(self, name: str, x: Tensor) -> Side:
        return Side(name, x, x.reshape(len(x), -1).to(torch.float32)
                    if x.is_floating_point() else None)

    def check_counts(self, wanted: list[str], sets: EvalSets, opts: dict[str, Any]) -> None:
        """DataError for the metric with the largest unmet minimum sample count."""
        failing = largest_unmet_minimum(wanted, sets.m, opts)
        if failing is None:
            return
        metric, need, why = failing
        data = self.data
        if sets.m < sets.n:
            raise DataError(
                f"data '{data.name}' has {data.size} training items: the real-vs-real floor "
                f"splits them into two halves of {sets.m}, fewer than the {need} samples metric "
                f"'{metric}' needs ({why})",
                hint="use more data (data.max_items, data.holdout_fraction), or leave "
                     f"'{metric}' out of eval.metrics"
                     + (" / lower eval.k" if get_metric(metric).group == "prdc" else ""))
        raise DataError(
            f"{sets.m} generated sample(s) are too few for metric '{metric}': at least {need} "
            f"are needed ({why})",
            hint=f"evaluate with at least {need} samples ('stablegan eval --n {need}' or --set "
                 f"eval.n_samples={need})"
                 + (", or lower eval.k" if get_metric(metric).group == "prdc" else ""))


def did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""
