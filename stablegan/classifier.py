"""Domain classifiers for evaluation: where they are kept and how to train one for a data config.

A domain classifier (:class:`stablegan.metrics.DomainClassifier`) is a small CNN trained on the
labelled training split of the run's data; its penultimate layer is the feature space of
``fid/classifier``, ``kid/classifier``, ``precision/classifier`` ..., its head gives the class
predictions of ``class_coverage/classifier`` and ``is/classifier``. It needs no download, so
offline runs use it instead of Inception-v3.

Where they live (first match wins when a run is evaluated, see ``stablegan.evaluation``):

1. ``eval.classifier_path`` when set;
2. ``RUN/classifier.pt``: the copy pinned to a run the first time it was evaluated with a
   classifier from the cache, so later evaluations of the run use the same network;
3. the cache, ``<cache>/classifiers/<key>.pt`` with ``<cache>`` = ``$STABLEGAN_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/stablegan``, else ``~/.cache/stablegan``; ``<key>`` is ``digits`` for the
   bundled digits (``digits-n<N>`` with ``data.max_items``) and ``<name>-<hash>`` for data read
   from disk (mnist, cifar10, image folders, tensor files), the hash covering the resolved
   ``data.path``, its size and mtime, ``data.max_items``, ``data.image_size`` and
   ``data.channels``: a classifier trained on a small test copy of MNIST is never used for the
   real one. A cached or pinned file whose ``.json`` names other data (name, sample shape) is
   ignored.

``stablegan classifier train --recipe digits`` writes the cache file (or ``--out PATH``) and a
``.json`` beside it with the test accuracy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from stablegan.core.cache import cache_dir
from stablegan.errors import DataError, StableganError

DEFAULT_EPOCHS = 20
AUTO_TRAIN_MAX_ITEMS = 10_000  # eval.extractor=auto trains a classifier on the fly up to this size
AUTO_TRAIN_MIN_ITEMS = 500  # ... and from this size (fewer labelled items: no useful classifier)
AUTO_TRAIN_EPOCHS = 20
DEFAULT_LR = 3e-3  # Adam; 0.97-0.98 test accuracy on digits in 20 epochs (1e-3: 0.96)


def classifier_key(data_cfg: Any) -> str:
    """The cache file stem of the classifier for ``data_cfg`` (a :class:`DataConfig`)."""
    name = str(data_cfg.name)
    if name == "digits":  # bundled with scikit-learn: always the same 1,797 images
        return name if data_cfg.max_items is None else f"{name}-n{data_cfg.max_items}"
    ident: list[Any] = [name, data_cfg.image_size, data_cfg.channels, data_cfg.max_items]
    if data_cfg.path:
        p = Path(data_cfg.path).expanduser().resolve()
        ident.append(str(p))
        if p.exists():
            st = p.stat()
            ident += [st.st_size if p.is_file() else 0, st.st_mtime_ns]
    digest = hashlib.sha1(json.dumps(ident, default=str).encode()).hexdigest()[:10]
    return f"{name}-{digest}"


def default_classifier_path(data_cfg: Any) -> Path:
    """``<cache>/classifiers/<key>.pt``."""
    return cache_dir() / "classifiers" / f"{classifier_key(data_cfg)}.pt"


def info_path(path: str | Path) -> Path:
    """The JSON sidecar of a classifier file (``x.pt`` -> ``x.json``)."""
    return Path(path).with_suffix(".json")


def matches_data(path: str | Path, data: Any) -> bool:
    """False when the sidecar of ``path`` says it was trained on other data (name or shape)."""
    info = read_info(path)
    if not info:
        return True
    return (info.get("data") == data.name
            and list(info.get("sample_shape", [])) == list(data.sample_shape))


def read_info(path: str | Path) -> dict[str, Any]:
    """The sidecar of ``path`` (test accuracy, data, epochs), or ``{}``."""
    try:
        data = json.loads(info_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _atomic_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def pin_to_run(path: Path, run_dir: Path) -> Path:
    """Copy a classifier (and its sidecar) to ``run_dir/classifier.pt``; return the copy."""
    dst = run_dir / "classifier.pt"
    _atomic_copy(path, dst)
    if info_path(path).is_file():
        _atomic_copy(info_path(path), info_path(dst))
    return dst


def labelled_training_data(data: Any) -> tuple[Any, Any, int]:
    """``(x, y, num_classes)``: every labelled item of the training split of ``data``."""
    size = data.size
    got = data.labelled(size if size is not None else 20_000, "train")
    if got is None:
        raise DataError(
            f"data '{data.name}' has no labels, and the domain classifier is trained on labelled "
            "data",
            hint="use labelled data (digits, mnist, cifar10, or a tensor file {'x': ..., "
                 "'y': labels}), or evaluate with --set eval.extractor=pixels (or inception)",
        )
    x, y = got
    num_classes = data.num_classes or int(y.max()) + 1
    return x, y, int(num_classes)


def train_classifier(
    cfg: Any,
    *,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    lr: float = DEFAULT_LR,
    out: str | Path | None = None,
    data: Any = None,
    log: Any = None,
    check: Any = None,
) -> dict[str, Any]:
    """Train a domain classifier on ``cfg``'s data, save it to ``out`` (default: the cache).

    The labelled training split is used; 20% of it (permutation from ``seed``) is held out for
    ``test_accuracy``; ``holdout_accuracy`` is the accuracy on the data's own held-out split (the
    items the GAN never trains on) when it has one. ``data`` (default: built from ``cfg.data``)
    is the source to train on; ``check(data)``, when given, runs once its labels are read (the CLI
    passes :func:`stablegan.tasks.extractors.check_classifier_data`: image data only). Returns
    the sidecar dict (with ``path``).
    """
    import torch

    from stablegan.data import build_data
    from stablegan.metrics import save_domain_classifier, train_domain_classifier

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise StableganError(f"--epochs must be an integer >= 1, got {epochs!r}")
    if data is None:
        data = build_data(cfg.data, cfg.seed)
    x, y, num_classes = labelled_training_data(data)
    if check is not None:  # e.g. that the data's task is evaluated in a classifier's space
        check(data)
    if len(x) < 10:
        raise DataError(f"data '{data.name}' has {len(x)} labelled training items, too few to "
                        "train and test a classifier", hint="use at least a few hundred items")
    threads = torch.get_num_threads()
    if x[0].numel() <= 1024:  # tiny images: one thread is several times faster than two
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        model, accuracy = train_domain_classifier(x, y, num_classes, epochs=epochs, seed=seed,
                                                  lr=lr)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    holdout_acc = None
    held = data.labelled(data.size or 20_000, "holdout")
    if held is not None and len(held[0]) > 0:
        with torch.no_grad():
            pred = torch.cat([model(held[0][i:i + 1024]).argmax(1)
                              for i in range(0, len(held[0]), 1024)])
        holdout_acc = float((pred == held[1]).float().mean())
    path = Path(out).expanduser() if out else default_classifier_path(cfg.data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_domain_classifier(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    info = {
        "data": data.name, "key": classifier_key(cfg.data), "sample_shape": list(data.sample_shape),
        "num_classes": num_classes, "train_items": len(x), "epochs": epochs, "seed": seed,
        "lr": lr, "test_fraction": 0.2, "test_accuracy": accuracy, "holdout_accuracy": holdout_acc,
        "holdout_items": 0 if held is None else len(held[0]), "seconds": round(seconds, 2),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    info_path(path).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if log is not None:
        log(f"trained a domain classifier for '{data.name}' ({len(x)} items, {epochs} epochs, "
            f"{seconds:.1f} s): test accuracy {accuracy:.4f} -> {path}")
    return {**info, "path": str(path)}
