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

import torch
from torch import Tensor

from stablegan.errors import ConfigError, DataError
from stablegan.metrics._checks import (
    as_tensor,
    check_finite,
    check_min_samples,
    check_positive_int,
    check_same_sample_shape,
)
from stablegan.metrics.coverage import class_coverage, labels_from_logits
from stablegan.metrics.features import Extractor, resolve_extractor
from stablegan.metrics.frechet import (
    fid_from_features,
    inception_score_from_logits,
    kid_from_features,
    rank_deficiency_note,
)
from stablegan.metrics.memorisation import memorisation
from stablegan.metrics.prdc import prdc
from stablegan.metrics.swd import sliced_wasserstein

METRICS = ("fid", "kid", "is", "precision", "recall", "density", "coverage", "swd",
           "class_coverage", "class_kl", "memorisation")
ALIASES = {"prdc": ("precision", "recall", "density", "coverage"),
           "class": ("class_coverage", "class_kl")}
_PRDC = ("precision", "recall", "density", "coverage")
# the key names (before "/<space>") each metric writes, its own name first
OUTPUT_KEYS = {"kid": ("kid", "kid_std"), "is": ("is", "is_std"),
               "class_coverage": ("class_coverage", "num_classes"),
               "memorisation": ("memorisation", "nn_distance", "memorisation_threshold")}

Results = dict[str, float | str]


def _normalise_metrics(metrics: Sequence[str]) -> list[str]:
    if isinstance(metrics, str):
        metrics = [metrics]
    out: list[str] = []
    for m in metrics:
        name = str(m).strip().lower()
        names = ALIASES.get(name, (name,))
        for n in names:
            if n not in METRICS:
                close = difflib.get_close_matches(n, METRICS + tuple(ALIASES), n=1)
                guess = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(f"unknown metric '{m}'",
                                  hint=f"{guess}available: {', '.join(METRICS + tuple(ALIASES))}")
            if n not in out:
                out.append(n)
    if not out:
        raise ConfigError("no metrics requested", hint=f"pass some of: {', '.join(METRICS)}")
    return out


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


class _Side:
    """Features, logits and (lazily) class labels of one sample set."""

    def __init__(self, name: str, x: Tensor, extractor: Extractor,
                 labels_fn: Callable[[Tensor], Tensor] | None) -> None:
        self.name, self.x, self.labels_fn = name, x, labels_fn
        self.features, self.logits = _checked_features(extractor, x, name)
        self._labels: Tensor | None = None

    def labels(self) -> Tensor:
        if self._labels is None:
            if self.labels_fn is not None:
                with torch.no_grad():
                    self._labels = torch.as_tensor(self.labels_fn(self.x)).detach().cpu()
            elif self.logits is not None:
                self._labels = labels_from_logits(self.logits)
        if self._labels is None:
            raise ConfigError("class metrics need class predictions",
                              hint="pass labels_fn=..., or use an extractor with logits "
                                   "(classifier or inception)")
        return self._labels


def _compute(
    metric: str, fake: _Side, real: _Side, ext: str, opts: dict[str, Any], notes: list[str]
) -> dict[str, float]:
    """Values of one metric group for ``fake`` against ``real``, keyed ``<metric>/<ext>``."""
    f, r = fake.features, real.features
    why_fid = "a covariance needs at least 2 samples"
    if metric == "fid":
        check_min_samples(len(f), 2, f"{fake.name} features", why_fid)
        check_min_samples(len(r), 2, f"{real.name} features", why_fid)
        for side in (fake, real):
            note = rank_deficiency_note(len(side.features), f.shape[1])
            if note and f"fid/{ext}: {note}" not in notes:
                notes.append(f"fid/{ext}: {note}")
        return {f"fid/{ext}": fid_from_features(f, r, warn=False)}
    if metric == "kid":
        size = opts["kid_subset_size"] or min(1000, len(f), len(r))
        why = "KID draws subsets of kid_subset_size samples and needs >= 2 per subset"
        check_min_samples(len(f), max(size, 2), f"{fake.name} features", why)
        check_min_samples(len(r), max(size, 2), f"{real.name} features", why)
        mean, std = kid_from_features(f, r, subsets=opts["kid_subsets"], subset_size=size,
                                      seed=opts["seed"])
        return {f"kid/{ext}": mean, f"kid_std/{ext}": std}
    if metric == "is":
        if fake.logits is None:
            raise ConfigError(f"metric 'is' needs class logits but extractor '{ext}' gives none",
                              hint="use extractor='classifier' or 'inception'")
        splits = opts["is_splits"]
        check_min_samples(len(fake.logits), splits, fake.name, f"IS averages over {splits} splits "
                          "(is_splits) and each split needs at least one sample")
        mean, std = inception_score_from_logits(fake.logits, splits, seed=opts["seed"])
        return {f"is/{ext}": mean, f"is_std/{ext}": std}
    if metric == "prdc":
        vals = prdc(r, f, opts["k"])
        return {f"{key}/{ext}": vals[key] for key in _PRDC if key in opts["wanted"]}
    if metric == "swd":
        return {f"swd/{ext}": sliced_wasserstein(f, r, opts["swd_projections"], seed=opts["seed"])}
    if metric == "memorisation":
        res = memorisation(f, r, threshold=opts["memorisation_threshold"],
                           percentile=opts["memorisation_percentile"], seed=opts["seed"])
        return {f"memorisation/{ext}": res.near_duplicate_fraction,
                f"memorisation_threshold/{ext}": res.threshold,
                f"nn_distance/{ext}": float(res.distances.mean())}
    # class metrics
    src = "labels" if fake.labels_fn is not None else ext
    cov = class_coverage(fake.labels(), real.labels(), opts["num_classes"],
                         min_count=opts["class_min_count"], eps=opts["class_eps"])
    out = {}
    if "class_coverage" in opts["wanted"]:
        out[f"class_coverage/{src}"] = cov["covered"]
        out[f"num_classes/{src}"] = cov["num_classes"]
    if "class_kl" in opts["wanted"]:
        out[f"class_kl/{src}"] = cov["kl"]
    return out


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
    wanted = _normalise_metrics(metrics)
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

    groups: list[str] = []
    for m in wanted:
        g = "prdc" if m in _PRDC else "class" if m.startswith("class_") else m
        if g not in groups:
            groups.append(g)

    results: Results = {"extractor": ext.name}
    notes: list[str] = []
    pairs = [("", sides["fake"])]
    if "real_holdout" in sides:
        pairs.append(("floor/", sides["real_holdout"]))
    for prefix, candidate in pairs:
        for g in groups:
            t0 = time.perf_counter()
            values = _compute(g, candidate, sides["real"], ext.name, opts, notes)
            timing[prefix + g] = time.perf_counter() - t0
            results.update({prefix + key: v for key, v in values.items()})
    if notes:
        results["notes"] = "; ".join(notes)
    return (results, timing) if return_timing else results
