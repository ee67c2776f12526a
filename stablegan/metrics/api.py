"""One entry point for evaluation: :func:`evaluate`.

Every value is keyed ``<metric>/<extractor>`` (``fid/classifier``, ``swd/pixels``), so results
from different feature spaces never mix. With ``real_holdout`` every metric is also computed
between ``real_holdout`` and ``real`` under ``floor/<key>``: the value a perfect generator, one
that samples the data distribution, would reach with that many samples.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

from torch import Tensor

from stablegan.errors import ConfigError, DataError
from stablegan.metrics._checks import (
    as_tensor,
    check_finite,
    check_min_samples,
    check_positive_int,
    check_same_sample_shape,
)
from stablegan.metrics.coverage import class_coverage
from stablegan.metrics.features import Extractor, resolve_extractor
from stablegan.metrics.frechet import (
    fid_from_features,
    inception_score_from_logits,
    kid_from_features,
    rank_deficiency_note,
)
from stablegan.metrics.memorisation import memorisation
from stablegan.metrics.prdc import prdc
from stablegan.metrics.registry import (
    Context,
    Metric,
    Side,
    aliases,
    expand,
    get_metric,
    groups,
    metric_names,
    register_alias,
    register_metric,
)
from stablegan.metrics.swd import sliced_wasserstein
from stablegan.metrics.toy import mode_metrics

_PRDC = ("precision", "recall", "density", "coverage")
Results = dict[str, float | str]


def _checked_features(extractor: Extractor, x: Tensor, name: str) -> tuple[Tensor, Tensor | None]:
    feats, logits = extractor.extract(x)
    if feats.dim() != 2 or feats.shape[0] != x.shape[0]:
        raise DataError(
            f"extractor '{extractor.name}' returned features of shape {tuple(feats.shape)} for "
            f"{name} of shape {tuple(x.shape)}",
            hint="an extractor must return one feature row per sample",
        )
    check_finite(feats, f"{extractor.name} features of {name}")
    if logits is not None:
        check_finite(logits, f"{extractor.name} logits of {name}")
    return feats, logits


class _Side(Side):
    """A sample set with its features and logits computed by ``extractor``."""

    def __init__(self, name: str, x: Tensor, extractor: Extractor,
                 labels_fn: Callable[[Tensor], Tensor] | None) -> None:
        feats, logits = _checked_features(extractor, x, name)
        super().__init__(name, x, feats, logits, labels_fn)


def _feature_metrics(metrics: Sequence[str]) -> list[str]:
    """The requested metrics (aliases expanded) that :func:`evaluate` computes in one feature
    space; ConfigError for any other name."""
    if isinstance(metrics, str):
        metrics = [metrics]
    wanted = expand(metrics)
    for name in wanted:
        if name not in METRICS:
            close = difflib.get_close_matches(name, METRICS + tuple(ALIASES), n=1)
            guess = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"unknown metric '{name}' for evaluate() (it is computed by a "
                              "task, not in a feature space)" if name in metric_names()
                              else f"unknown metric '{name}'",
                              hint=f"{guess}available: {', '.join(METRICS + tuple(ALIASES))}")
    if not wanted:
        raise ConfigError("no metrics requested", hint=f"pass some of: {', '.join(METRICS)}")
    return wanted


# ------------------------------------------------------------------ the built-in metrics
_WHY_COV = "a covariance needs at least 2 samples"


def _fid(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    f, r = fake.features, real.features
    check_min_samples(len(f), 2, f"{fake.name} features", _WHY_COV)
    check_min_samples(len(r), 2, f"{real.name} features", _WHY_COV)
    for side in (fake, real):
        note = rank_deficiency_note(len(side.features), f.shape[1])
        if note and f"{ctx.key('fid')}: {note}" not in ctx.notes:
            ctx.notes.append(f"{ctx.key('fid')}: {note}")
    return {ctx.key("fid"): fid_from_features(f, r, warn=False)}


def _kid(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    f, r, opts = fake.features, real.features, ctx.opts
    size = opts["kid_subset_size"] or min(1000, len(f), len(r))
    why = "KID draws subsets of kid_subset_size samples and needs >= 2 per subset"
    check_min_samples(len(f), max(size, 2), f"{fake.name} features", why)
    check_min_samples(len(r), max(size, 2), f"{real.name} features", why)
    mean, std = kid_from_features(f, r, subsets=opts["kid_subsets"], subset_size=size,
                                  seed=opts["seed"])
    return {ctx.key("kid"): mean, ctx.key("kid_std"): std}


def _is(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    if fake.logits is None:
        raise ConfigError(f"metric 'is' needs class logits but extractor '{ctx.space}' gives "
                          "none", hint="use extractor='classifier' or 'inception'")
    splits = ctx.opts["is_splits"]
    check_min_samples(len(fake.logits), splits, fake.name, f"IS averages over {splits} splits "
                      "(is_splits) and each split needs at least one sample")
    mean, std = inception_score_from_logits(fake.logits, splits, seed=ctx.opts["seed"])
    return {ctx.key("is"): mean, ctx.key("is_std"): std}


def _prdc(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    vals = prdc(real.features, fake.features, ctx.opts["k"])
    wanted = ctx.opts.get("wanted", _PRDC)
    return {ctx.key(key): vals[key] for key in _PRDC if key in wanted}


def _swd(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    return {ctx.key("swd"): sliced_wasserstein(fake.features, real.features,
                                               ctx.opts["swd_projections"],
                                               seed=ctx.opts["seed"])}


def _memorisation(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    o = ctx.opts
    res = memorisation(fake.features, real.features, threshold=o["memorisation_threshold"],
                       percentile=o["memorisation_percentile"], seed=o["seed"])
    return {ctx.key("memorisation"): res.near_duplicate_fraction,
            ctx.key("memorisation_threshold"): res.threshold,
            ctx.key("nn_distance"): float(res.distances.mean())}


def _classes(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    o = ctx.opts
    src = "labels" if fake.labels_fn is not None else ctx.space
    cov = class_coverage(fake.labels(), real.labels(), o["num_classes"],
                         min_count=o["class_min_count"], eps=o["class_eps"])
    wanted = o.get("wanted", _CLASS)
    out = {}
    if "class_coverage" in wanted:
        out[f"class_coverage/{src}"] = cov["covered"]
        out[f"num_classes/{src}"] = cov["num_classes"]
    if "class_kl" in wanted:
        out[f"class_kl/{src}"] = cov["kl"]
    return out


def _modes(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    data = ctx.task.data
    if data.modes is None or data.mode_std is None:
        raise ConfigError(f"eval.metrics asks for 'modes' but data '{data.name}' has no known "
                          "modes", hint="'modes' is for toy mixtures (ring, grid)")
    return mode_metrics(fake.x.reshape(len(fake.x), -1), data.modes, data.mode_std)


def _k_plus_one(opts: dict[str, Any]) -> int:
    return int(opts.get("k", 5)) + 1


def _is_min(opts: dict[str, Any]) -> int:
    return int(opts.get("is_splits", 10))


_CLASS = ("class_coverage", "class_kl")
_WHY_PRDC = "with eval.k={k} every sample needs {k} other samples for its k-th nearest neighbour"
register_metric(Metric("fid", _fid, min_samples=2, why=_WHY_COV,
                       description="Frechet distance of Gaussian fits (Heusel et al. 2017)"))
register_metric(Metric("kid", _kid, keys=("kid", "kid_std"), min_samples=2,
                       why="the unbiased MMD estimate needs 2 samples per set",
                       description="kernel inception distance (Binkowski et al. 2018)"))
register_metric(Metric("is", _is, needs="logits", keys=("is", "is_std"), min_samples=_is_min,
                       why="IS averages over {is_splits} splits of the generated samples",
                       description="inception score (Salimans et al. 2016)"))
for _name in _PRDC:
    register_metric(Metric(_name, _prdc, keys=(_name,), min_samples=_k_plus_one, why=_WHY_PRDC,
                           group="prdc", description="Naeem et al. 2020 / Kynkaanniemi 2019"))
register_metric(Metric("swd", _swd, description="sliced Wasserstein distance"))
for _name, _keys in (("class_coverage", ("class_coverage", "num_classes")),
                     ("class_kl", ("class_kl",))):
    register_metric(Metric(_name, _classes, needs="classes", keys=_keys, group="class",
                           description="classes covered / KL to the data's class histogram"))
register_metric(Metric("memorisation", _memorisation,
                       keys=("memorisation", "nn_distance", "memorisation_threshold"),
                       min_samples=2, why="the near-duplicate radius needs 2 training samples",
                       description="share of near-duplicates of training items"))
register_metric(Metric("modes", _modes, needs="modes", keys=("modes", "hq_fraction",
                                                             "reverse_kl"),
                       description="PacGAN/VEEGAN mode protocol for toy mixtures"))
register_alias("prdc", _PRDC)
register_alias("class", _CLASS)

#: the metrics :func:`evaluate` computes in one feature space (everything but task-level ones)
METRICS = tuple(n for n in metric_names() if get_metric(n).needs in ("features", "logits",
                                                                     "classes"))
ALIASES = aliases()
OUTPUT_KEYS = {n: get_metric(n).output_keys for n in metric_names()}


@overload
def evaluate(fake: Tensor, real: Tensor, metrics: Sequence[str],
             extractor: str | Extractor | Callable[[Tensor], Any] = ..., *,
             return_timing: Literal[False] = ..., **kwargs: Any) -> Results: ...


@overload
def evaluate(fake: Tensor, real: Tensor, metrics: Sequence[str],
             extractor: str | Extractor | Callable[[Tensor], Any] = ..., *,
             return_timing: Literal[True], **kwargs: Any) -> tuple[Results, dict[str, float]]: ...


def evaluate(
    fake: Tensor,
    real: Tensor,
    metrics: Sequence[str],
    extractor: str | Extractor | Callable[[Tensor], Any] = "pixels",
    *,
    real_holdout: Tensor | None = None,
    labels_fn: Callable[[Tensor], Tensor] | None = None,
    k: int = 5,
    seed: int = 0,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    is_splits: int = 10,
    swd_projections: int = 128,
    memorisation_threshold: float | None = None,
    memorisation_percentile: float = 1.0,
    num_classes: int | None = None,
    class_min_count: int = 1,
    class_eps: float = 1e-6,
    extractor_kwargs: dict[str, Any] | None = None,
    return_timing: bool = False,
) -> Results | tuple[Results, dict[str, float]]:
    """Compute ``metrics`` of ``fake`` samples against ``real`` samples in one feature space.

    Metrics (keys; ``<e>`` is the extractor's name, ``<s>`` is ``labels`` with ``labels_fn``,
    else ``<e>``):

    * ``fid`` -> ``fid/<e>``; ``kid`` -> ``kid/<e>``, ``kid_std/<e>`` (subsets of
      ``kid_subset_size``, default ``min(1000, N_fake, N_real)``; the std is 0 when a subset is
      all of both sets); ``is`` -> ``is/<e>``, ``is_std/<e>`` (needs logits);
    * ``precision``, ``recall``, ``density``, ``coverage`` (alias ``prdc``) -> ``<metric>/<e>``
      with ``k`` neighbours;
    * ``swd`` -> ``swd/<e>`` (``swd_projections`` directions);
    * ``class_coverage`` -> ``class_coverage/<s>``, ``num_classes/<s>``; ``class_kl`` ->
      ``class_kl/<s>`` (classes from ``labels_fn`` or the extractor's logits);
    * ``memorisation`` -> ``memorisation/<e>`` (near-duplicate share), ``nn_distance/<e>``,
      ``memorisation_threshold/<e>`` (``real`` plays the training set).

    Also ``extractor`` (str) and, when something deserves a warning, ``notes`` (str). With
    ``real_holdout`` (disjoint from ``real``; best the same size as ``fake``) each key is repeated
    as ``floor/<key>`` computed with ``real_holdout`` in place of ``fake``. With
    ``return_timing=True`` returns ``(results, timing)``, ``timing`` holding wall seconds for
    ``features`` and each metric group (``fid``, ``kid``, ``is``, ``prdc``, ``swd``, ``class``,
    ``memorisation``; ``floor/<group>`` for the floors).
    """
    wanted = _feature_metrics(metrics)
    k = check_positive_int(k, "k")
    opts: dict[str, Any] = {
        "wanted": wanted, "k": k, "seed": seed,
        "kid_subsets": check_positive_int(kid_subsets, "kid_subsets"),
        "kid_subset_size": None if kid_subset_size is None
        else check_positive_int(kid_subset_size, "kid_subset_size", minimum=2),
        "is_splits": check_positive_int(is_splits, "is_splits"),
        "swd_projections": check_positive_int(swd_projections, "swd_projections"),
        "memorisation_threshold": memorisation_threshold,
        "memorisation_percentile": memorisation_percentile,
        "num_classes": num_classes, "class_min_count": class_min_count, "class_eps": class_eps,
    }
    fake = as_tensor(fake, "fake")
    real = as_tensor(real, "real")
    check_same_sample_shape(fake, real, "fake", "real")
    sets = {"fake": fake, "real": real}
    if real_holdout is not None:
        real_holdout = as_tensor(real_holdout, "real_holdout")
        check_same_sample_shape(real_holdout, real, "real_holdout", "real")
        sets["real_holdout"] = real_holdout
    for name, x in sets.items():
        check_finite(x, name)
    if any(m in _PRDC for m in wanted):
        why = f"with k={k} each sample needs k other samples for its k-th nearest neighbour"
        for name, x in sets.items():
            check_min_samples(len(x), k + 1, name, why)

    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    ext = resolve_extractor(extractor, **(extractor_kwargs or {}))
    sides = {name: _Side(name, x, ext, labels_fn) for name, x in sets.items()}
    timing["features"] = time.perf_counter() - t0

    results: Results = {"extractor": ext.name}
    ctx = Context(ext.name, opts)
    pairs = [("", sides["fake"])]
    if "real_holdout" in sides:
        pairs.append(("floor/", sides["real_holdout"]))
    for prefix, candidate in pairs:
        for metric, _members in groups(wanted):
            t0 = time.perf_counter()
            values = metric.compute(candidate, sides["real"], ctx)
            timing[prefix + (metric.group or metric.name)] = time.perf_counter() - t0
            results.update({prefix + key: v for key, v in values.items()})
    if ctx.notes:
        results["notes"] = "; ".join(ctx.notes)
    return (results, timing) if return_timing else results
