"""Labelled image benchmarks: scikit-learn ``digits`` (8x8, offline), MNIST (28x28) and CIFAR-10
(32x32). MNIST/CIFAR-10 files are read by :mod:`stablegan.data.files` in each of their usual
layouts under ``data.path``; with ``data.download=true`` missing files are downloaded by
torchvision when it is installed, else by our own downloader. Only the official training sets
are used; the held-out split is carved from them. Images are scaled to [-1, 1]."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from stablegan.config import DataConfig
from stablegan.data.base import FiniteSource
from stablegan.data.files import find_cifar, find_mnist, read_cifar_raw, read_mnist_raw
from stablegan.errors import DataError

DEFAULT_ROOT = "data"  # dataset root when data.path is not set (relative to the working dir)


def has_torchvision() -> bool:
    """True when torchvision can be imported."""
    return importlib.util.find_spec("torchvision") is not None


def _uint8_source(
    name: str, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, cfg: DataConfig,
    seed: int,
) -> FiniteSource:
    """A FiniteSource over uint8 images (N, C, H, W) mapped to [-1, 1] with 10 classes."""
    xt = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64)) if not isinstance(y, torch.Tensor) else y
    return FiniteSource(
        name, "images", xt.to(torch.uint8), yt.long(), seed,
        holdout_fraction=cfg.holdout_fraction, max_items=cfg.max_items,
        scale=1 / 127.5, offset=-1.0, num_classes=10,
    )


def digits(cfg: DataConfig, seed: int) -> FiniteSource:
    """scikit-learn's 1797 8x8 digits (values 0..16 -> [-1, 1]), shape (1, 8, 8), 10 classes."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("data 'digits' needs scikit-learn, which is not installed",
                        hint="pip install scikit-learn") from None
    bunch = load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32).round().to(torch.uint8).view(-1, 1, 8, 8)
    y = torch.as_tensor(bunch.target, dtype=torch.long)
    return FiniteSource(
        "digits", "images", x, y, seed, holdout_fraction=cfg.holdout_fraction,
        max_items=cfg.max_items, scale=1 / 8, offset=-1.0, num_classes=10,
    )


def _root(cfg: DataConfig) -> Path:
    """Dataset root folder: ``data.path`` or ``./data``."""
    return Path(cfg.path if cfg.path is not None else DEFAULT_ROOT).expanduser()


def _torchvision_download(dataset: str, root: Path, load: Callable[[], object]) -> None:
    """Run torchvision's downloader ``load`` into ``root``; DataError when it fails."""
    try:
        load()
    except (RuntimeError, OSError) as err:
        raise DataError(f"torchvision could not download {dataset} into {root}: {err}"
                        .splitlines()[0],
                        hint=f"check the internet connection, or delete the files under {root} "
                             "and download again") from None


def mnist(cfg: DataConfig, seed: int) -> FiniteSource:
    """MNIST training images (1, 28, 28) from ``data.path`` (default ``./data``): the folder
    holding ``MNIST/``, ``MNIST/`` itself, ``MNIST/raw`` or any folder of the idx files."""
    root = _root(cfg)
    if cfg.download and has_torchvision() and find_mnist(root) is None:
        import torchvision

        _torchvision_download("MNIST", root, lambda: torchvision.datasets.MNIST(
            root=str(root), train=True, download=True))
    images, labels = read_mnist_raw(root, cfg.download)
    return _uint8_source("mnist", images[:, None], labels.astype(np.int64), cfg, seed)


def cifar10(cfg: DataConfig, seed: int) -> FiniteSource:
    """CIFAR-10 training images (3, 32, 32) from ``data.path`` (default ``./data``): the folder
    holding ``cifar-10-batches-py/``, that folder itself, or ``cifar-10-python.tar.gz``."""
    root = _root(cfg)
    if cfg.download and has_torchvision() and find_cifar(root) is None:
        import torchvision

        _torchvision_download("CIFAR-10", root, lambda: torchvision.datasets.CIFAR10(
            root=str(root), train=True, download=True))
    x, y = read_cifar_raw(root, cfg.download)
    return _uint8_source("cifar10", x, y, cfg, seed)
