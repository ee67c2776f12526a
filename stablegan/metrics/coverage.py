"""Class-mode coverage: how many classes a generator produces, judged by a classifier.

With ``n_c`` the number of fakes classified as class c (c = 1..K) and ``q_c = n_c / sum n``:

* covered ``= #{c : n_c >= min_count}``
* KL ``= KL(q || p) = sum_{c: q_c > 0} q_c log(q_c / p~_c)`` where ``p`` is the class distribution
  of the data (the classifier's predictions on real samples, or uniform) smoothed as
  ``p~_c = (p_c + eps) / (1 + K eps)`` so that a class the data never shows costs a large but
  finite amount (``eps = 1e-6`` by default: at most ``log(1e6) ~ 13.8`` nats per unit of mass).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from stablegan.errors import ConfigError, DataError
from stablegan.metrics._checks import as_tensor, check_positive_float, check_positive_int


def labels_from_logits(logits: Tensor) -> Tensor:
    """Predicted classes ``argmax_c logits[i, c]``."""
    z = as_tensor(logits, "logits")
    if z.dim() != 2:
        raise DataError(f"logits must have shape (N, C), got {tuple(z.shape)}",
                        hint="pass one row of class scores per sample")
    return z.argmax(dim=1)


def _check_labels(labels: Tensor, name: str, num_classes: int | None = None) -> Tensor:
    y = as_tensor(labels, name).detach().cpu()
    if y.dim() != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise DataError(
            f"{name} must be a 1-D integer tensor of class indices, got dtype {y.dtype} "
            f"and shape {tuple(y.shape)}",
            hint="pass labels as torch.long of shape (N,), e.g. logits.argmax(dim=1)",
        )
    y = y.to(torch.long)
    if int(y.min()) < 0 or (num_classes is not None and int(y.max()) >= num_classes):
        raise DataError(
            f"{name} has class indices in [{int(y.min())}, {int(y.max())}], "
            f"outside [0, {num_classes if num_classes is not None else 'K'})",
            hint="pass num_classes larger than the largest label, and labels >= 0",
        )
    return y


def class_histogram(labels: Tensor, num_classes: int) -> Tensor:
    """Counts ``n_c = #{i : labels_i = c}`` for c = 0..num_classes-1 (int64)."""
    num_classes = check_positive_int(num_classes, "num_classes")
    y = _check_labels(labels, "labels", num_classes)
    return torch.bincount(y, minlength=num_classes)


def histogram_kl(q_counts: Tensor, p_counts: Tensor | None = None, eps: float = 1e-6) -> float:
    """``KL(q || p~)`` of two class histograms with the smoothing of the module docstring.

    ``p_counts=None`` means the uniform distribution.
    """
    eps = check_positive_float(eps, "eps")
    q = torch.as_tensor(q_counts, dtype=torch.float64)
    k = q.shape[0]
    if p_counts is None:
        p = torch.full((k,), 1.0 / k, dtype=torch.float64)
    else:
        p = torch.as_tensor(p_counts, dtype=torch.float64)
        if p.shape != q.shape:
            raise DataError(f"histograms have {k} and {p.shape[0]} classes",
                            hint="count both histograms over the same classes")
        if float(p.sum()) <= 0:
            raise DataError("the data class histogram is empty", hint="pass real labels")
        p = p / p.sum()
    if float(q.sum()) <= 0:
        raise DataError("the generated class histogram is empty", hint="pass generated labels")
    q = q / q.sum()
    p = (p + eps) / (1 + k * eps)
    mask = q > 0
    return float((q[mask] * torch.log(q[mask] / p[mask])).sum())


def class_coverage(
    fake_labels: Tensor,
    real_labels: Tensor | None = None,
    num_classes: int | None = None,
    *,
    min_count: int = 1,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Covered classes and ``KL(q_fake || p_data)`` (see the module docstring).

    Returns ``{"covered", "num_classes", "kl", "max_kl"}``; ``max_kl = log K`` is the value of a
    generator collapsed onto one class when the data is uniform. ``num_classes`` defaults to one
    more than the largest label seen.
    """
    min_count = check_positive_int(min_count, "min_count")
    fake = _check_labels(fake_labels, "fake labels", num_classes)
    real = None if real_labels is None else _check_labels(real_labels, "real labels", num_classes)
    if num_classes is None:
        seen = int(fake.max()) if real is None else max(int(fake.max()), int(real.max()))
        num_classes = seen + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes!r}",
                          hint="pass the number of classes of the classifier")
    counts = torch.bincount(fake, minlength=num_classes)
    ref = None if real is None else torch.bincount(real, minlength=num_classes)
    return {
        "covered": float((counts >= min_count).sum()),
        "num_classes": float(num_classes),
        "kl": histogram_kl(counts, ref, eps),
        "max_kl": math.log(num_classes),
    }
