"""Feature spaces of image evaluation: which extractor ``eval.extractor`` chooses, loading the
domain classifier or Inception-v3, and the default image metrics.

``eval.extractor``:

* ``auto`` (default): points use their coordinates. Images use the domain classifier when one is
  found (``eval.classifier_path``, ``RUN/classifier.pt``, the cache; see
  :mod:`stablegan.classifier`) or the data is labelled with 500 to 10,000 training items
  (``AUTO_TRAIN_MIN_ITEMS``, ``AUTO_TRAIN_MAX_ITEMS`` of :mod:`stablegan.classifier`; digits:
  trained once in ~5 s, then cached); else
  ``inception`` when its weights file is on disk (``eval.inception_weights`` or torch-fidelity's
  cache) and torch-fidelity imports; else ``pixels``, with a note saying how to get a classifier.
* ``classifier``, ``inception``, ``pixels`` or any name given to
  :func:`stablegan.metrics.register_extractor`: exactly that space; a missing classifier or
  Inception weights file is an error that says which file, where, and what to use offline.

The default image set (:func:`default_image_metrics`) is every metric that applies: FID only up
to ``FID_MAX_DIM`` feature dimensions, class metrics and IS only with a classifier, IS also with
Inception. Used by the images and points tasks; :mod:`stablegan.evaluation` (above the tasks)
only calls the task.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import stablegan.classifier as clf  # its AUTO_TRAIN_* settings are read when used
from stablegan.classifier import default_classifier_path, matches_data, pin_to_run, train_classifier
from stablegan.errors import ConfigError, DataError, StableganError
from stablegan.metrics.features import (
    INCEPTION_FILENAME,
    INCEPTION_URL,
    ClassifierExtractor,
    Extractor,
    get_extractor,
    inception_cache_path,
    load_domain_classifier,
)
from stablegan.metrics.memorisation import save_nearest_pairs_png
from stablegan.metrics.settings import feature_space_keys, metric_list
from stablegan.tasks.registry import task_class

FID_MAX_DIM = 2048  # default sets skip FID above this many feature dimensions (covariance cost)
IS_SPLITS = 10
_PRDC = ("precision", "recall", "density", "coverage")
_CLASS = ("class_coverage", "class_kl")
_EXTRACTORS: dict[tuple[Any, ...], Extractor] = {}  # loaded classifiers / Inception, per process

__all__ = ["FID_MAX_DIM", "IS_SPLITS", "Precomputed", "can_auto_train", "check_classifier_data",
           "choose_extractor", "classifier_for", "classifier_hint", "default_image_metrics",
           "extract", "feature_space_keys", "find_classifier", "inception_weights",
           "metric_list", "no_classifier", "save_pairs"]


class Precomputed(Extractor):
    """Features that are already computed: returns its input and the logits stored for it."""

    def __init__(self, name: str, logits: dict[int, Tensor | None]) -> None:
        self.name = name
        self._logits = logits

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return x, self._logits.get(id(x))


def classifier_hint(cfg: Any, run_dir: Path | None) -> str:
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


def check_classifier_data(data: Any) -> None:
    """DataError unless ``data``'s task evaluates in a domain classifier's feature space."""
    if not task_class(data).domain_classifier:
        raise DataError(f"data '{data.name}' holds {data.task}, not images",
                        hint="the domain classifier is for image data; toy data is evaluated "
                             "with mode metrics and SWD in its own coordinates")


def can_auto_train(data: Any) -> bool:
    return (task_class(data).domain_classifier and data.num_classes is not None
            and data.size is not None
            and clf.AUTO_TRAIN_MIN_ITEMS <= data.size <= clf.AUTO_TRAIN_MAX_ITEMS)


def no_classifier(cfg: Any, data: Any, run_dir: Path | None) -> ConfigError:
    why = ("its data has no labels" if data.num_classes is None else
           "its data is not a finite image set" if not data.size else
           f"its data has {data.size} labelled training items; one is trained on the fly "
           f"only for {clf.AUTO_TRAIN_MIN_ITEMS} to {clf.AUTO_TRAIN_MAX_ITEMS}")
    return ConfigError(f"eval.extractor=classifier but there is no domain classifier for "
                       f"data '{data.name}' ({why})", hint=classifier_hint(cfg, run_dir))


def classifier_for(cfg: Any, data: Any, run_dir: Path | None, device: str, notes: list[str],
                    *, train: bool) -> tuple[Extractor, Path] | None:
    """The domain classifier of this run (found, or trained now when ``train`` and the data is
    small and labelled), pinned to ``run_dir/classifier.pt``; None when there is none."""
    path, origin = find_classifier(cfg, run_dir, data, notes)
    if path is None and train and can_auto_train(data):
        print(f"evaluation: training a domain classifier for '{data.name}' ({data.size:,} "
              f"labelled items, {clf.AUTO_TRAIN_EPOCHS} epochs; about a minute on 2 CPU cores "
              "for MNIST-sized data, once: it is cached) for the feature space of "
              "<metric>/classifier",
              file=sys.stderr)
        info = train_classifier(cfg, epochs=clf.AUTO_TRAIN_EPOCHS, seed=0, data=data,
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


def inception_weights(cfg: Any) -> Path:
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
    path = inception_weights(cfg)
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
