"""Labels for class-conditional GANs, on the task side: which data can be conditioned on, the
class prior G draws its labels from, the packed prior ``[z, y]`` and the class-by-row display.

A task is conditional when ``conditional.generator``/``conditional.critic`` are set (the presets
``cgan-pd``, ``acgan``, ``cgan-ppo``). Its data must carry labels (``num_classes`` and
``sample_labelled``): digits, MNIST, CIFAR-10, an image folder with ``data.class_folders=true``,
a tensor file ``{"x": ..., "y": ...}`` or a ``TensorSource(x, labels=y)``. Anything else is
refused before anything is written.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from stablegan.errors import ConfigError
from stablegan.models.conditional import check_labels, pack

MAX_ROWS = 16  # class-by-row display up to this many classes (K x K samples)


def is_conditional(cfg: Any) -> bool:
    cond = getattr(cfg, "conditional", None)
    return bool(cond is not None and cond.enabled)


def check_labelled(data: Any, cfg: Any) -> int:
    """The number of classes of ``data``; ConfigError when it has no labels."""
    k = getattr(data, "num_classes", None)
    if not k or not callable(getattr(data, "sample_labelled", None)):
        method = getattr(cfg, "method", "?")
        c = cfg.conditional
        method = (f"{method}' (conditional.generator={c.generator}, conditional.critic="
                  f"{c.critic})")
        hint = ("set data.class_folders=true with one sub-folder per class"
                if getattr(data, "name", "") == "image-folder" else
                "use labelled data (digits, mnist, cifar10, an image folder with "
                "data.class_folders=true, a tensor file {'x': ..., 'y': labels}) or an "
                "unconditional method (conditional.generator=none, conditional.critic=none)")
        raise ConfigError(f"method '{method} is class-conditional but data "
                          f"'{getattr(data, 'name', data)}' has no labels", hint=hint)
    if int(k) < 2:
        raise ConfigError(f"a conditional GAN needs at least 2 classes; data "
                          f"'{data.name}' has {k}", hint="use an unconditional method")
    return int(k)


def class_prior(data: Any, cfg: Any, num_classes: int) -> Tensor:
    """The probabilities G's labels are drawn with: the training set's class frequencies
    (``conditional.label_prior=data``) or uniform."""
    counts = data.class_counts() if callable(getattr(data, "class_counts", None)) else None
    if cfg.conditional.label_prior == "uniform" or counts is None or int(counts.sum()) == 0:
        return torch.full((num_classes,), 1.0 / num_classes)
    return counts.double() / counts.sum()


def sample_labels(probs: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` labels drawn from ``probs`` (CPU, int64)."""
    return torch.multinomial(probs, n, replacement=True, generator=generator)


def display_labels(num_classes: int, n: int) -> Tensor:
    """Labels of the fixed display noise: ``num_classes`` rows of ``num_classes`` samples (class
    k in row k) when ``n == num_classes**2``, else the classes in turn."""
    if n == num_classes * num_classes:
        return torch.arange(num_classes).repeat_interleave(num_classes)
    return torch.arange(n) % num_classes


def class_grid_size(num_classes: int) -> int:
    """Samples in a class-by-row grid (K x K), or 64 (classes in turn) for K > MAX_ROWS."""
    return num_classes * num_classes if num_classes <= MAX_ROWS else 64


def packed_prior(n: int, latent_dim: int, labels: Tensor, num_classes: int,
                 device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> Tensor:
    """``pack(z, y)`` with z ~ N(0, I): the conditional generator's input."""
    labels = torch.as_tensor(labels).long().reshape(-1)
    check_labels(labels, num_classes, "requested class")
    if labels.shape[0] != n:
        raise ConfigError(f"{labels.shape[0]} labels for {n} samples",
                          hint="give one label per sample")
    if generator is not None:
        z = torch.randn(n, latent_dim, generator=generator)
    else:
        z = torch.randn(n, latent_dim, device=device)
    return pack(z.to(device), labels.to(device))
