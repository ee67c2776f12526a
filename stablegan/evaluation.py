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

``eval.extractor``:

* ``auto`` (default): points use their coordinates. Images use the domain classifier when one is
  found (``eval.classifier_path``, ``RUN/classifier.pt``, the cache; see
  :mod:`stablegan.classifier`) or the data is labelled with 500 to 10,000 training items
  (``AUTO_TRAIN_MIN_ITEMS``, ``AUTO_TRAIN_MAX_ITEMS``; digits: trained once in ~5 s, then
  cached); else
  ``inception`` when its weights file is on disk (``eval.inception_weights`` or torch-fidelity's
  cache) and torch-fidelity imports; else ``pixels``, with a note saying how to get a classifier.
* ``classifier``, ``inception``, ``pixels`` or any name given to
  :func:`stablegan.metrics.register_extractor`: exactly that space; a missing classifier or
  Inception weights file is an error that says which file, where, and what to use offline.

The final evaluation (not the periodic ones) also carries ``n_eval``, ``num_classes/<s>``,
``memorisation_threshold/<s>`` (constants of the setup) and the strings ``extractor`` (the space's
name), ``classifier`` (its file, with the classifier) and ``notes``.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stablegan.errors import ConfigError, DataError, StableganError
from stablegan.metrics.api import METRICS
from stablegan.metrics.features import (
    INCEPTION_FILENAME,
    INCEPTION_URL,
    ClassifierExtractor,
    Extractor,
    available_extractors,
    get_extractor,
    inception_cache_path,
    load_domain_classifier,
)
from stablegan.metrics.registry import expand, get_metric

FID_MAX_DIM = 2048  # default sets skip FID above this many feature dimensions (covariance cost)
IS_SPLITS = 10
_PRDC = ("precision", "recall", "density", "coverage")
_CLASS = ("class_coverage", "class_kl")
# repeats of the main value
_DROP = ("floor/num_classes/", "floor/memorisation_threshold/", "floor/bleu_hypotheses",
         "floor/bleu_references")
# constants of the setup: final evaluation only (with n_eval)
_SETUP = ("num_classes/", "memorisation_threshold/", "bleu_hypotheses", "bleu_references",
          "self_bleu_hypotheses", "self_bleu_set")
_EXTRACTORS: dict[tuple[Any, ...], Extractor] = {}  # loaded classifiers / Inception, per process


# --------------------------------------------------------------------------------- config checks
def metric_list(metrics: Sequence[str] | str) -> list[str]:
    """``eval.metrics`` with aliases expanded, in order, without repeats (ConfigError naming
    ``eval.metrics`` for an unknown name)."""
    return expand(metrics, "eval.metrics")


def check_eval_metrics(metrics: Sequence[str]) -> None:
    """ConfigError naming ``eval.metrics`` for a metric the registry does not know."""
    metric_list(metrics)


def check_eval_extractor(name: str) -> None:
    """ConfigError naming ``eval.extractor`` unless it is ``auto`` or a registered extractor."""
    choices = ["auto", *available_extractors()]
    if name not in choices:
        close = difflib.get_close_matches(str(name), choices, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"config key 'eval.extractor' must be one of {', '.join(choices)}; got '{name}'",
            hint=f"{guess}register your own with stablegan.metrics.register_extractor(name, "
                 "factory) before building the config")


def check_eval_config(ecfg: Any) -> None:
    """The eval.* names that need no data: metric and extractor names."""
    check_eval_metrics(ecfg.metrics)
    check_eval_extractor(ecfg.extractor)


def feature_space_keys(ecfg: Any, metrics: Sequence[str]) -> set[str]:
    """``<key>/<space>`` for every output key of ``metrics`` (empty: every feature-space metric)
    in every space an evaluation with ``ecfg`` can use (a superset: which appear can depend on
    what is on disk when ``eval.extractor=auto``)."""
    spaces = {"classifier"}  # class metrics are judged by the domain classifier
    if ecfg.extractor == "auto":
        spaces.update(available_extractors())
    else:
        spaces.add(ecfg.extractor)
    names = [m for m in (metrics or METRICS) if get_metric(m).needs != "modes"]
    return {f"{k}/{s}" for m in names for k in get_metric(m).output_keys for s in spaces}


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
        _inception_weights(task.cfg)


# --------------------------------------------------------------------------------- helpers
class Precomputed(Extractor):
    """Features that are already computed: returns its input and the logits stored for it."""

    def __init__(self, name: str, logits: dict[int, Tensor | None]) -> None:
        self.name = name
        self._logits = logits

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return x, self._logits.get(id(x))


def classifier_hint(cfg: Any, run_dir: Path | None) -> str:
    from stablegan.classifier import default_classifier_path

    where = default_classifier_path(cfg.data)
    if cfg.data.name in ("digits", "mnist"):
        how = f"stablegan classifier train --recipe {cfg.data.name}"
    elif run_dir is not None:
        how = f"stablegan classifier train --config {run_dir / 'config.yaml'}"
    else:
        how = "stablegan classifier train --config YOUR_CONFIG.yaml"
    return f"train one with '{how}' (saved to {where}), or set eval.classifier_path=FILE"


def find_classifier(cfg: Any, run_dir: Path | None, data: Any = None,
                    notes: list[str] | None = None) -> tuple[Path | None, str]:
    """``(path, origin)`` of the classifier to use, or ``(None, "")``; origin is one of
    ``eval.classifier_path``, ``run`` or ``cache``. A set but missing ``eval.classifier_path``
    is an error; a run or cache file whose sidecar names other data than ``data`` is skipped."""
    from stablegan.classifier import default_classifier_path, matches_data

    if cfg.eval.classifier_path:
        path = Path(cfg.eval.classifier_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"eval.classifier_path: domain classifier file not found: {path}",
                              hint=classifier_hint(cfg, run_dir))
        return path, "eval.classifier_path"
    candidates = [(default_classifier_path(cfg.data), "cache")]
    if run_dir is not None:
        candidates.insert(0, (run_dir / "classifier.pt", "run"))
    for path, origin in candidates:
        if not path.is_file():
            continue
        if data is not None and not matches_data(path, data):
            if notes is not None:
                notes.append(f"ignored {path}: its .json says it was trained on other data")
            continue
        return path, origin
    return None, ""


def _classifier_extractor(path: Path, device: str) -> Extractor:
    st = path.stat()
    key = ("classifier", str(path.resolve()), st.st_mtime_ns, st.st_size, device)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = ClassifierExtractor(load_domain_classifier(path), device=device)
    return _EXTRACTORS[key]


def can_auto_train(data: Any) -> bool:
    from stablegan.classifier import AUTO_TRAIN_MAX_ITEMS, AUTO_TRAIN_MIN_ITEMS
    from stablegan.tasks import task_class

    return (task_class(data).domain_classifier and data.num_classes is not None
            and data.size is not None
            and AUTO_TRAIN_MIN_ITEMS <= data.size <= AUTO_TRAIN_MAX_ITEMS)


def no_classifier(cfg: Any, data: Any, run_dir: Path | None) -> ConfigError:
    from stablegan.classifier import AUTO_TRAIN_MAX_ITEMS, AUTO_TRAIN_MIN_ITEMS

    why = ("its data has no labels" if data.num_classes is None else
           "its data is not a finite image set" if not data.size else
           f"its data has {data.size} labelled training items; one is trained on the fly "
           f"only for {AUTO_TRAIN_MIN_ITEMS} to {AUTO_TRAIN_MAX_ITEMS}")
    return ConfigError(f"eval.extractor=classifier but there is no domain classifier for "
                       f"data '{data.name}' ({why})", hint=classifier_hint(cfg, run_dir))


def classifier_for(cfg: Any, data: Any, run_dir: Path | None, device: str, notes: list[str],
                    *, train: bool) -> tuple[Extractor, Path] | None:
    """The domain classifier of this run (found, or trained now when ``train`` and the data is
    small and labelled), pinned to ``run_dir/classifier.pt``; None when there is none."""
    from stablegan.classifier import AUTO_TRAIN_EPOCHS, pin_to_run, train_classifier

    path, origin = find_classifier(cfg, run_dir, data, notes)
    if path is None and train and can_auto_train(data):
        print(f"evaluation: training a domain classifier for '{data.name}' ({data.size:,} "
              f"labelled items, {AUTO_TRAIN_EPOCHS} epochs; about a minute on 2 CPU cores for "
              "MNIST-sized data, once: it is cached) for the feature space of <metric>/classifier",
              file=sys.stderr)
        info = train_classifier(cfg, epochs=AUTO_TRAIN_EPOCHS, seed=0, data=data,
                                log=lambda msg: print(msg, file=sys.stderr))
        path, origin = Path(info["path"]), "cache"
        notes.append(f"trained a domain classifier for '{data.name}' on the fly (test accuracy "
                     f"{info['test_accuracy']:.3f})")
    if path is None:
        return None
    if origin == "cache" and run_dir is not None:
        try:
            path = pin_to_run(path, run_dir)
        except OSError as err:
            print(f"warning: could not copy the classifier into {run_dir}: {err}",
                  file=sys.stderr)
    return _classifier_extractor(path, device), path


def _inception_missing(path: Path, why: str, given: bool) -> DataError:
    where = ("set eval.inception_weights=FILE to where you put it" if given else
             "put it there, or anywhere and set eval.inception_weights=FILE")
    return DataError(
        f"Inception-v3 weights {why}: the file {INCEPTION_FILENAME} was expected at {path}",
        hint=f"download {INCEPTION_URL} on a machine with internet and {where}; offline, use "
             "the domain classifier instead: 'stablegan classifier train --recipe digits' (or "
             "--config your config) and --set eval.extractor=classifier")


def _inception_weights(cfg: Any) -> Path:
    """The Inception-v3 weights file: ``eval.inception_weights``, else torch-fidelity's cache,
    downloaded there first when it is empty (fails fast offline with a message)."""
    given = cfg.eval.inception_weights
    path = Path(given).expanduser() if given else inception_cache_path()
    if not path.is_file():
        if given:
            raise _inception_missing(path, "not found", True)
        try:  # torch-fidelity's cache is empty: try to download (fails fast offline)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(INCEPTION_URL, str(path), progress=False)
        except Exception as exc:  # noqa: BLE001 - offline, proxy, disk: all mean "no file"
            raise _inception_missing(path, f"are not on disk and could not be downloaded "
                                           f"({exc.__class__.__name__})", False) from exc
    return path


def _inception(cfg: Any, device: str) -> Extractor:
    path = _inception_weights(cfg)
    key = ("inception", str(path.resolve()), device)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = get_extractor("inception", weights_path=path, download=False,
                                         device=device)
    return _EXTRACTORS[key]


def _inception_on_disk(cfg: Any) -> bool:
    given = cfg.eval.inception_weights
    return (Path(given).expanduser() if given else inception_cache_path()).is_file()


def choose_extractor(cfg: Any, data: Any, run_dir: Path | None = None, device: str = "cpu",
                     notes: list[str] | None = None) -> tuple[Extractor, Path | None]:
    """The feature extractor for ``cfg.eval.extractor`` (see the module docstring) and, for the
    classifier, its file."""
    notes = notes if notes is not None else []
    name = cfg.eval.extractor
    if name == "auto":
        from stablegan.tasks import task_class

        if not task_class(data).domain_classifier:
            return get_extractor("pixels"), None
        found = classifier_for(cfg, data, run_dir, device, notes, train=True)
        if found is not None:
            return found
        if _inception_on_disk(cfg):
            try:
                return _inception(cfg, device), None
            except StableganError as err:
                notes.append(f"inception unavailable ({err.message})")
        notes.append(f"no domain classifier for data '{data.name}', so fid/kid/prdc are in pixel "
                     f"space: {classifier_hint(cfg, run_dir)}")
        return get_extractor("pixels"), None
    if name == "classifier":
        found = classifier_for(cfg, data, run_dir, device, notes, train=True)
        if found is None:
            raise no_classifier(cfg, data, run_dir)
        return found
    if name == "inception":
        return _inception(cfg, device), None
    return get_extractor(name), None


def extract(ext: Extractor, x: Tensor, what: str, source: Path | None) -> tuple[Tensor,
                                                                                   Tensor | None]:
    feats, logits = ext.extract(x)
    feats = feats.detach().reshape(feats.shape[0], -1).cpu()
    if feats.shape[0] != x.shape[0]:
        raise DataError(f"extractor '{ext.name}' returned {feats.shape[0]} feature rows for "
                        f"{x.shape[0]} {what}", hint="an extractor returns one row per sample")
    for tensor, kind in ((feats, "features"), (logits, "logits")):
        if tensor is None:
            continue
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            fix = (f"the classifier file {source} is broken: retrain it with 'stablegan "
                   "classifier train'" if source is not None else
                   "check the extractor (its weights or its input range)")
            raise DataError(f"the '{ext.name}' {kind} of the {what} contain {bad} NaN/inf "
                            f"value(s) out of {tensor.numel()}", hint=fix)
    return feats, (logits.detach().cpu() if logits is not None else None)


def save_pairs(fake: Tensor, train: Tensor, ff: Tensor, ft: Tensor, run_dir: Path) -> None:
    from stablegan.metrics import save_nearest_pairs_png

    path = run_dir / "nearest_pairs.png"
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".nearest_pairs.", suffix=".png")
    os.close(fd)
    try:
        save_nearest_pairs_png(fake, train, tmp, k=8, fake_features=ff, train_features=ft,
                               value_range=(-1.0, 1.0))
        os.replace(tmp, path)
    except (OSError, StableganError) as err:
        print(f"warning: could not write {path}: {err}", file=sys.stderr)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def default_image_metrics(space: str, dim: int, has_logits: bool, has_classifier: bool,
                           notes: list[str]) -> list[str]:
    metrics = ["fid", "kid", *_PRDC, "swd", "memorisation"]
    if dim > FID_MAX_DIM:
        metrics.remove("fid")
        notes.append(f"fid/{space} skipped: {dim} feature dimensions (> {FID_MAX_DIM}); add "
                     "'fid' to eval.metrics to compute it anyway")
    if space == "pixels":
        metrics.remove("swd")  # swd/pixels is always there
    if has_logits and space in ("classifier", "inception"):
        metrics.insert(2, "is")
    if has_classifier:
        metrics += list(_CLASS)
    return metrics


# --------------------------------------------------------------------------------- provenance
_HASHES: dict[tuple[str, int, int], str] = {}
SHORT_HASH = 12  # hex digits of sha256 kept: enough to tell two files apart


def file_sha256(path: str | Path) -> str:
    """The first ``SHORT_HASH`` hex digits of the sha256 of ``path`` (cached per path, size and
    modification time, so periodic evaluations hash a file once)."""
    import hashlib

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
    from stablegan.classifier import read_info

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


# --------------------------------------------------------------------------------- evaluation
def evaluate(sampler: Callable[[int], Tensor], task: Any, ecfg: Any, *, n: int | None = None,
             run_dir: Path | None = None, device: str = "cpu", final: bool = True,
             generator: Any = None) -> dict[str, Any]:
    """The metrics of the generator behind ``sampler`` (``n -> n samples in evaluation form``)
    on ``task``'s data, with the settings ``ecfg`` (an EvalConfig); see the module docstring.
    ``n`` defaults to ``ecfg.n_samples``; ``final`` adds the descriptive entries and lets the
    task draw pictures (``nearest_pairs.png``) into ``run_dir``; ``generator`` (optional) serves
    metrics that need the model itself (the NLL of the test set)."""
    n = ecfg.n_samples if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"the number of evaluation samples must be an integer >= 2, got {n!r}",
                          hint="pass --n 1000 (or --set eval.n_samples=1000)")
    check_eval_metrics(ecfg.metrics)
    sets = task.eval_sets(sampler, n)
    sets.generator = generator
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
