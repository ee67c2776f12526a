"""Labelled image benchmarks: scikit-learn ``digits`` (8x8, offline), MNIST (28x28) and CIFAR-10
(32x32). MNIST/CIFAR-10 use torchvision's loaders when torchvision is installed, otherwise the
same on-disk formats are read directly (see :mod:`stablegan.data.files`). Only the official
training sets are used; the held-out split is carved from them. Images are scaled to [-1, 1]."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from stablegan.config import DataConfig
from stablegan.data.base import FiniteSource
from stablegan.data.files import missing_file_error, read_cifar_raw, read_mnist_raw
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


def _torchvision_error(dataset: str, expected: Path, err: Exception) -> DataError:
    """DataError for a torchvision loader that failed (missing or corrupt files)."""
    if "not found" in str(err).lower():
        return missing_file_error(dataset, expected)
    return DataError(f"torchvision could not load {dataset}: {err}".splitlines()[0],
                     hint=f"delete the files under {expected.parent} and download again")


def mnist(cfg: DataConfig, seed: int) -> FiniteSource:
    """MNIST training images (1, 28, 28) from ``data.path`` (default ``./data``)."""
    root = _root(cfg)
    if has_torchvision():
        import torchvision

        try:
            ds = torchvision.datasets.MNIST(root=str(root), train=True, download=cfg.download)
        except (RuntimeError, OSError) as err:
            raise _torchvision_error(
                "MNIST", root / "MNIST" / "raw" / "train-images-idx3-ubyte", err
            ) from None
        x, y = ds.data.unsqueeze(1), ds.targets
    else:
        images, labels = read_mnist_raw(root, cfg.download)
        x, y = images[:, None], labels.astype(np.int64)
    return _uint8_source("mnist", x, y, cfg, seed)


def cifar10(cfg: DataConfig, seed: int) -> FiniteSource:
    """CIFAR-10 training images (3, 32, 32) from ``data.path`` (default ``./data``)."""
    root = _root(cfg)
    if has_torchvision():
        import torchvision

        try:
            ds = torchvision.datasets.CIFAR10(root=str(root), train=True, download=cfg.download)
        except (RuntimeError, OSError) as err:
            raise _torchvision_error(
                "CIFAR-10", root / "cifar-10-batches-py" / "data_batch_1", err
            ) from None
        x, y = np.asarray(ds.data).transpose(0, 3, 1, 2), np.asarray(ds.targets)
    else:
        x, y = read_cifar_raw(root, cfg.download)
    return _uint8_source("cifar10", x, y, cfg, seed)
