"""What ``stablegan eval`` and periodic evaluation compute for a trained generator.

* Toy mixtures (data with known modes): the PacGAN/VEEGAN protocol (``modes``, ``hq_fraction``,
  ``reverse_kl`` on ``n`` samples, 2,500 by default) and the sliced Wasserstein distance to reals.
* Everything else: the sliced Wasserstein distance in pixel space (``swd/pixels``), plus whatever
  ``eval.metrics`` asks for through ``stablegan.metrics``.
Each distance also comes with ``floor/<key>``: the same distance between two disjoint sets of real
samples, the value a perfect generator would reach.
"""

from __future__ import annotations

from typing import Any

from stablegan.metrics.swd import sliced_wasserstein
from stablegan.metrics.toy import mode_metrics


def evaluate_generator(trainer: Any, n: int) -> dict[str, Any]:
    data = trainer.data
    fake = trainer.sample(n)
    out: dict[str, Any] = {}
    if data.modes is not None and data.mode_std is not None:
        out.update(mode_metrics(fake, data.modes, data.mode_std))
    real = data.reals(n, "train")
    out["swd/pixels" if data.kind == "image" else "swd"] = sliced_wasserstein(fake, real, seed=0)
    held = data.reals(n, "holdout")
    if held is not None and len(held) >= 2:
        k = "swd/pixels" if data.kind == "image" else "swd"
        out[f"floor/{k}"] = sliced_wasserstein(held, real[: len(held)], seed=0)
    return out
