"""The metric registry: one entry per metric, read by everything that needs to know about metrics.

An entry (:class:`Metric`) says what the metric needs, which keys it writes, how many samples it
needs and how to compute it. :func:`stablegan.metrics.evaluate`, the evaluation pre-flight
(names, ``eval.best_metric``, sample counts), the tasks' default sets and the report all read
this table, so adding a metric is one :func:`register_metric` call::

    register_metric(Metric("mean_gap", needs="samples", keys=("mean_gap",),
                           compute=lambda fake, real, ctx: {"mean_gap": ...}))

``compute(fake, real, ctx)`` gets two :class:`Side` objects (the samples ``x``, and for
``needs="features"`` their ``features`` / ``logits`` in the context's feature space) and a
:class:`Context` (options, the task, notes); it returns ``{key: value}`` with keys already named
by ``ctx.key(name)`` (``<name>/<space>`` in a feature space, plain ``<name>`` in the data's own
coordinates). Metrics in one ``group`` share one computation (precision, recall, density and
coverage come from one neighbour search).

``needs``:

* ``features``: the samples in a feature space (pixels, a domain classifier, Inception, or the
  data's coordinates for points);
* ``logits``: class logits of the feature space (IS);
* ``classes``: class predictions of the domain classifier (class coverage / KL);
* ``samples``: the evaluation representation of the samples themselves (token ids for text);
* ``modes``: toy mixtures with known mode centres.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from stablegan.errors import ConfigError

NEEDS = ("features", "logits", "classes", "samples", "modes")


@dataclass
class Side:
    """One sample set as a metric sees it: raw samples and, in a feature space, features and
    logits; class labels from ``labels_fn`` or, lacking one, the argmax of the logits."""

    name: str
    x: Tensor
    features: Tensor | None = None
    logits: Tensor | None = None
    labels_fn: Callable[[Tensor], Tensor] | None = None
    _labels: Tensor | None = field(default=None, repr=False)

    def labels(self) -> Tensor:
        if self._labels is None:
            if self.labels_fn is not None:
                with torch.no_grad():
                    self._labels = torch.as_tensor(self.labels_fn(self.x)).detach().cpu()
            elif self.logits is not None:
                from stablegan.metrics.coverage import labels_from_logits

                self._labels = labels_from_logits(self.logits)
        if self._labels is None:
            raise ConfigError("class metrics need class predictions",
                              hint="pass labels_fn=..., or use an extractor with logits "
                                   "(classifier or inception)")
        return self._labels


@dataclass
class Context:
    """What a metric's ``compute`` may use besides the two sides."""

    space: str | None  # feature space name; None: the data's own coordinates (plain keys)
    opts: dict[str, Any] = field(default_factory=dict)
    task: Any = None  # the Task, for metrics that need the data (modes, references)
    notes: list[str] = field(default_factory=list)

    def key(self, name: str) -> str:
        return name if self.space is None else f"{name}/{self.space}"


@dataclass(frozen=True)
class Metric:
    """One registered metric."""

    name: str
    compute: Callable[[Side, Side, Context], dict[str, float]]
    needs: str = "features"
    keys: tuple[str, ...] = ()  # key names it writes (before "/<space>"); default (name,)
    min_samples: int | Callable[[dict[str, Any]], int] = 1
    why: str = "a metric needs samples"  # may name options: "{k}", "{is_splits}"
    group: str | None = None  # metrics computed together (one call serves the group)
    floor: bool = True  # also computed with the floor set in place of the fakes
    description: str = ""

    @property
    def output_keys(self) -> tuple[str, ...]:
        return self.keys or (self.name,)

    def minimum(self, opts: dict[str, Any]) -> int:
        return self.min_samples(opts) if callable(self.min_samples) else int(self.min_samples)


_REGISTRY: dict[str, Metric] = {}
_ALIASES: dict[str, tuple[str, ...]] = {}


def register_metric(metric: Metric, *, overwrite: bool = False) -> Metric:
    """Add ``metric`` to the registry (ConfigError for a taken name unless ``overwrite``)."""
    if metric.needs not in NEEDS:
        raise ConfigError(f"metric '{metric.name}' needs '{metric.needs}', not one of "
                          f"{', '.join(NEEDS)}")
    if (metric.name in _REGISTRY or metric.name in _ALIASES) and not overwrite:
        raise ConfigError(f"a metric named '{metric.name}' is already registered",
                          hint="pick another name or pass overwrite=True")
    _REGISTRY[metric.name] = metric
    return metric


def register_alias(name: str, metrics: Sequence[str]) -> None:
    """``name`` stands for several registered metrics (``prdc`` -> precision, recall, ...)."""
    _ALIASES[name] = tuple(metrics)


def get_metric(name: str) -> Metric:
    if name not in _REGISTRY:
        raise unknown_metric(name)
    return _REGISTRY[name]


def metric_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def aliases() -> dict[str, tuple[str, ...]]:
    return dict(_ALIASES)


def unknown_metric(name: str, key: str | None = None) -> ConfigError:
    choices = [*_REGISTRY, *_ALIASES]
    close = difflib.get_close_matches(str(name), choices, n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    where = f"config key '{key}' names an unknown metric" if key else "unknown metric"
    return ConfigError(f"{where} '{name}'",
                       hint=f"{guess}choose from {', '.join(choices)}"
                            + (" (or leave it empty for the data's default set)" if key else ""))


def expand(metrics: Sequence[str] | str, key: str | None = None) -> list[str]:
    """Metric names with aliases expanded, in order, without repeats; unknown names raise."""
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m.strip()]
    out: list[str] = []
    for m in metrics:
        name = str(m).strip().lower()
        if name not in _REGISTRY and name not in _ALIASES:
            raise unknown_metric(str(m), key)
        for n in _ALIASES.get(name, (name,)):
            if n not in out:
                out.append(n)
    return out


def groups(names: Sequence[str]) -> list[tuple[Metric, list[str]]]:
    """``names`` grouped by shared computation, in order: ``[(first metric, members), ...]``."""
    out: list[tuple[Metric, list[str]]] = []
    index: dict[str, int] = {}
    for n in names:
        metric = get_metric(n)
        g = metric.group or metric.name
        if g in index:
            out[index[g]][1].append(n)
        else:
            index[g] = len(out)
            out.append((metric, [n]))
    return out


def largest_unmet_minimum(names: Sequence[str], count: int,
                          opts: dict[str, Any]) -> tuple[str, int, str] | None:
    """``(metric, needed, why)`` for the metric with the largest minimum above ``count``."""
    failing = [(n, get_metric(n).minimum(opts), get_metric(n).why.format(**opts)) for n in names]
    failing = sorted((f for f in failing if count < f[1]), key=lambda f: -f[1])
    return failing[0] if failing else None
