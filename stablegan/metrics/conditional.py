"""Per-class evaluation of a class-conditional generator, from features and class predictions.

All functions take the classes the samples were *requested* for (``fake_y``), the domain
classifier's predictions or features of those samples, and for the distances the real samples
with their true labels:

* :func:`class_accuracy`: how often the classifier agrees with the requested class, overall and
  per class (the "class-conditional accuracy" of StudioGAN/Odena et al.);
* :func:`confusion`: counts of (requested, predicted) pairs;
* :func:`misassigned_classes`: the AC-GAN failure of Odena et al. 2017 (samples of one class the
  classifier reads as another): a class whose accuracy is below ``threshold`` and whose samples go
  mostly to one other class, named with that class and its share;
* :func:`intra_class_fid`: the Frechet distance between the fakes and the reals of each class,
  averaged over classes (Miyato & Koyama 2018);
* :func:`per_class_coverage`: PRDC coverage (Naeem et al. 2020) within each class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from stablegan.metrics.frechet import fid_from_features
from stablegan.metrics.prdc import prdc


def confusion(fake_y: Tensor, predicted: Tensor, num_classes: int) -> Tensor:
    """(K, K) int64 counts: row = requested class, column = predicted class."""
    idx = fake_y.long() * num_classes + predicted.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes,
                                                                             num_classes)


def class_accuracy(fake_y: Tensor, predicted: Tensor, num_classes: int
                   ) -> tuple[float, list[float | None]]:
    """``(mean over samples of [pred == requested], per-class accuracy)``; a class with no
    samples gets None."""
    conf = confusion(fake_y, predicted, num_classes).double()
    rows = conf.sum(1)
    per = [float(conf[k, k] / rows[k]) if rows[k] > 0 else None for k in range(num_classes)]
    total = float(conf.diagonal().sum() / rows.sum()) if rows.sum() > 0 else float("nan")
    return total, per


def misassigned_classes(conf: Tensor, threshold: float = 0.5,
                        names: Sequence[str] | None = None) -> list[str]:
    """Classes whose accuracy is below ``threshold`` and whose samples another class takes the
    largest share of, as ``"3 (as 8, 62%)"`` (class names when given)."""
    k = conf.shape[0]
    label = (lambda i: str(names[i])) if names else str
    out = []
    for c in range(k):
        n = float(conf[c].sum())
        if n == 0:
            continue
        acc = float(conf[c, c]) / n
        others = conf[c].clone().double()
        others[c] = -1.0
        j = int(others.argmax())
        if acc < threshold and float(conf[c, j]) > float(conf[c, c]):
            out.append(f"{label(c)} (as {label(j)}, {100 * float(conf[c, j]) / n:.0f}%)")
    return out


def intra_class_fid(fake_f: Tensor, fake_y: Tensor, real_f: Tensor, real_y: Tensor,
                    num_classes: int, min_count: int = 2) -> tuple[float, list[float | None]]:
    """``(mean over classes of FID(fakes of c, reals of c), per-class FID)``; classes with fewer
    than ``min_count`` fakes or reals get None and are left out of the mean."""
    per: list[float | None] = []
    for c in range(num_classes):
        f, r = fake_f[fake_y == c], real_f[real_y == c]
        per.append(fid_from_features(f, r, warn=False)
                   if min(len(f), len(r)) >= min_count else None)
    vals = [v for v in per if v is not None]
    return (sum(vals) / len(vals) if vals else float("nan")), per


def per_class_coverage(fake_f: Tensor, fake_y: Tensor, real_f: Tensor, real_y: Tensor,
                       num_classes: int, k: int = 5) -> tuple[float, list[float | None]]:
    """``(mean over classes of coverage within class c, per-class coverage)``: the share of the
    reals of class c with a fake of class c inside their k-NN ball (among reals of c)."""
    per: list[float | None] = []
    for c in range(num_classes):
        f, r = fake_f[fake_y == c], real_f[real_y == c]
        per.append(prdc(r, f, k=k)["coverage"] if min(len(f), len(r)) > k else None)
    vals = [v for v in per if v is not None]
    return (sum(vals) / len(vals) if vals else float("nan")), per
