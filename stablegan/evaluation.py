"""What ``stablegan eval``, periodic evaluation and the final evaluation compute for a generator.

:func:`evaluate_generator` is called by the trainer (``eval.every``, the end of training) and by
``stablegan eval --run DIR``. Keys are ``<metric>/<space>``: the space (the feature extractor)
that produced the number is always named, so ``fid/classifier`` and ``fid/inception`` never mix.

Sample sets (``n`` = ``eval.n_samples`` or ``--n``):

* infinite data (toy mixtures): ``n`` fakes, ``n`` reals of the train split as the reference and
  ``n`` independent reals of the held-out split for the floor;
* finite data: ``m = min(n, N_train // 2)`` fakes and two disjoint halves of ``m`` training
  items, the first the reference, the second the floor candidate (``n_eval`` = m; a note says
  when ``m < n``).

Every key ``K`` also comes as ``floor/K``: the same metric with the second real half in place of
the fakes, i.e. what a perfect generator would score with this many samples. For memorisation
the "training set" is both halves together and the floor is the data's held-out split (how often
genuinely new data lands within the near-duplicate radius of the training set); data without a
held-out split, and toy data, use the reference half and the floor half instead.

Metrics (``eval.metrics``; empty = the default set):

* points: ``modes`` (``modes``, ``hq_fraction``, ``reverse_kl``: the PacGAN/VEEGAN protocol,
  for mixtures with known modes) and ``swd`` (key ``swd``, in the data's own coordinates);
* images: ``swd/pixels`` always; plus, in the feature space chosen by ``eval.extractor``:
  ``fid``, ``kid``, ``precision``/``recall``/``density``/``coverage`` (alias ``prdc``, with
  ``eval.k`` neighbours), ``swd`` (in the feature space), ``memorisation`` (near-duplicate share,
  with ``nearest_pairs.png`` written to the run directory at the final evaluation) and, with class
  predictions, ``is`` and ``class_coverage``/``class_kl`` (alias ``class``: classes covered and
  KL to the data's class distribution, both judged by the domain classifier). The default set is
  all of these that apply (FID only up to 2,048 feature dimensions; class metrics and IS only with
  a classifier, IS also with Inception).

``eval.extractor`` chooses the feature space of images (the domain classifier, Inception-v3 or
pixels; points use their coordinates): see :mod:`stablegan.tasks.extractors`, where the image
side of evaluation lives. This module calls the task's methods and imports no task (only
``preflight``'s check of the Inception weights file from that module).

The final evaluation (not the periodic ones) also carries ``n_eval``, ``num_classes/<s>``,
``memorisation_threshold/<s>`` (constants of the setup) and the strings ``extractor`` (the space's
name), ``classifier`` (its file, with the classifier) and ``notes``.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor

from stablegan.classifier import read_info
from stablegan.errors import ConfigError
from stablegan.metrics.features import inception_cache_path
from stablegan.metrics.settings import (
    check_eval_config,
    check_eval_extractor,
    check_eval_metrics,
    feature_space_keys,
    metric_list,
)
from stablegan.tasks.extractors import inception_weights

__all__ = ["check_best_metric", "check_eval_config", "check_eval_extractor", "check_eval_metrics",
           "evaluate", "extractor_mismatch", "extractor_provenance", "feature_space_keys",
           "file_sha256", "metric_list", "possible_keys", "preflight", "provenance_id"]

# repeats of the main value
_DROP = ("floor/num_classes/", "floor/memorisation_threshold/", "floor/bleu_hypotheses",
         "floor/bleu_references")
# constants of the setup: final evaluation only (with n_eval)
_SETUP = ("num_classes/", "memorisation_threshold/", "bleu_hypotheses", "bleu_references",
          "self_bleu_hypotheses", "self_bleu_set")


# --------------------------------------------------------------------------------- config checks
def possible_keys(task: Any, ecfg: Any) -> set[str]:
    """Every numeric key an evaluation of ``task`` with ``ecfg`` can produce, without
    ``floor/``."""
    return task.possible_keys(ecfg)


def check_best_metric(task: Any, ecfg: Any) -> None:
    """ConfigError naming ``eval.best_metric`` when no evaluation of this task can produce it."""
    key = ecfg.best_metric
    if not key:
        return
    keys = possible_keys(task, ecfg)
    if key.removeprefix("floor/") in keys:
        return
    close = difflib.get_close_matches(key, sorted(keys), n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    shown = sorted(keys)
    listed = ", ".join(shown[:12]) + (f", ... ({len(shown)} in all)" if len(shown) > 12 else "")
    raise ConfigError(f"config key 'eval.best_metric' names '{key}', which no evaluation of "
                      f"data '{task.data.name}' with these eval.* settings produces",
                      hint=f"{guess}keys are <metric>/<feature space> for images (e.g. "
                           f"fid/classifier); possible here: {listed}")


def preflight(task: Any, ecfg: Any, run_dir: Path | None = None) -> None:
    """Check the evaluation settings against the task before any training step, so a bad
    ``eval.*`` value fails at once rather than after the whole budget is spent: metric and
    extractor names, what the task can evaluate, ``eval.best_metric``, and the files an
    explicit extractor needs (the Inception weights, fetched now if the cache is empty; a
    domain classifier, or data small enough to train one)."""
    check_eval_config(ecfg)
    task.preflight(ecfg, run_dir)
    check_best_metric(task, ecfg)
    if ecfg.extractor == "inception":
        inception_weights(task.cfg)


# --------------------------------------------------------------------------------- provenance
_HASHES: dict[tuple[str, int, int], str] = {}
SHORT_HASH = 12  # hex digits of sha256 kept: enough to tell two files apart


def file_sha256(path: str | Path) -> str:
    """The first ``SHORT_HASH`` hex digits of the sha256 of ``path`` (cached per path, size and
    modification time, so periodic evaluations hash a file once)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()[:SHORT_HASH]
    return _HASHES[key]


def extractor_provenance(described: dict[str, Any], cfg: Any) -> dict[str, dict[str, Any]]:
    """Which network produced the numbers of each feature space, ``{space: {...}}``: for the
    domain classifier (``<metric>/classifier``) its file's short sha256 and the test accuracy of
    its ``.json`` sidecar; for Inception its weights file's sha256; nothing for pixels or
    coordinates. Two numbers under the same key are comparable only when these agree."""
    prov: dict[str, dict[str, Any]] = {}
    clf = described.get("classifier")
    if clf and Path(clf).is_file():
        info = read_info(clf)
        prov["classifier"] = {"sha256": file_sha256(clf), "file": Path(clf).name,
                              "test_accuracy": info.get("test_accuracy"),
                              "data": info.get("data")}
    if described.get("extractor") == "inception":
        given = cfg.eval.inception_weights
        weights = Path(given).expanduser() if given else inception_cache_path()
        if weights.is_file():
            prov["inception"] = {"sha256": file_sha256(weights), "file": weights.name}
    return prov


def provenance_id(info: Any) -> str | None:
    """The identity of one extractor entry (its sha256), or None when unknown."""
    return str(info.get("sha256")) if isinstance(info, dict) and info.get("sha256") else None


def extractor_mismatch(summary: dict[str, Any]) -> str | None:
    """A message when the runs of ``summary`` scored one feature space (e.g. ``classifier``)
    with different networks (different sha256), whose numbers are therefore not comparable;
    None when they agree or nothing is recorded (runs from before provenance was recorded)."""
    per = summary.get("feature_extractors")
    if not isinstance(per, dict):
        return None
    spaces = sorted({s for prov in per.values() if isinstance(prov, dict) for s in prov})
    for space in spaces:
        ids: dict[str, list[str]] = {}
        for run, prov in per.items():
            ident = provenance_id(prov.get(space)) if isinstance(prov, dict) else None
            if ident:
                ids.setdefault(ident, []).append(run)
        if len(ids) > 1:
            listed = "; ".join(f"sha256 {i}: {', '.join(r)}" for i, r in sorted(ids.items()))
            return (f"the '{space}' numbers (<metric>/{space}) of these runs come from "
                    f"{len(ids)} different '{space}' networks and are not comparable ({listed})")
    return None


# --------------------------------------------------------------------------------- evaluation
def evaluate(sampler: Callable[[int], Tensor], task: Any, ecfg: Any, *, n: int | None = None,
             run_dir: Path | None = None, device: str = "cpu", final: bool = True,
             generator: Any = None, models: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metrics of the generator behind ``sampler`` (``n -> n samples in evaluation form``)
    on ``task``'s data, with the settings ``ecfg`` (an EvalConfig); see the module docstring.
    ``n`` defaults to ``ecfg.n_samples``; ``final`` adds the descriptive entries and lets the
    task draw pictures (``nearest_pairs.png``) into ``run_dir``; ``generator`` (optional) serves
    metrics that need the model itself (the NLL of the test set), ``models`` (optional, the
    method's ``evaluation_models()``) those that need another of its networks by name (the
    style model's own classifier)."""
    n = ecfg.n_samples if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"the number of evaluation samples must be an integer >= 2, got {n!r}",
                          hint="pass --n 1000 (or --set eval.n_samples=1000)")
    check_eval_metrics(ecfg.metrics)
    sets = task.eval_sets(sampler, n)
    sets.generator = generator
    sets.models = dict(models or {})
    out = task.metrics(sets, ecfg, run_dir=run_dir, device=device, final=final)
    described = {key: out.pop(key) for key in ("extractor", "classifier") if key in out}
    provenance = extractor_provenance(described, task.cfg)
    out = {key: v for key, v in out.items() if not key.startswith(_DROP)}
    if not final:  # constants of the setup: kept out of the curves of periodic evaluations
        out = {key: v for key, v in out.items() if not key.startswith(_SETUP)}
        if provenance:
            out["feature_extractors"] = provenance
        return out
    out["n_eval"] = sets.m
    out.update(described)
    if provenance:
        out["feature_extractors"] = provenance
    if sets.notes:
        out["notes"] = "; ".join(sets.notes)
    return out
