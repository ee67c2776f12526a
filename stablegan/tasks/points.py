"""Points: vectors in R^D (the 2-D toy mixtures, tensors of shape (N, D)).

Samples are shown as a scatter over the data (projected to the first two coordinates), evaluated
in the data's own coordinates (keys without a feature-space suffix: ``swd``, and for mixtures
with known centres the PacGAN/VEEGAN ``modes`` protocol).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import Tensor

import stablegan.tasks.extractors as ev
from stablegan.tasks.base import EvalSets, Task
from stablegan.tasks.images import extract_sets, feature_space_metrics


class PointsTask(Task):
    name = "points"
    coordinate_space = "pixels"
    n_display = 1000  # a scatter of points

    def render(self, samples: Tensor, path: Path, title: str = "") -> None:
        from stablegan.reports.plots import save_samples

        save_samples(samples, path, kind="points", modes=self.data.modes,
                     real=self.data.reals(1000), title=title)

    def default_metrics(self, ecfg: Any) -> list[str]:
        return (["modes"] if self.data.modes is not None else []) + ["swd"]

    def possible_keys(self, ecfg: Any) -> set[str]:
        wanted = ev.metric_list(ecfg.metrics)
        keys = ev.feature_space_keys(ecfg, [w for w in wanted if w != "modes"]) | {"swd"}
        if self.data.modes is not None and (not wanted or "modes" in wanted):
            keys.update(("modes", "hq_fraction", "reverse_kl"))
        return keys

    def metrics(self, sets: EvalSets, ecfg: Any, *, run_dir: Path | None = None,
                device: str = "cpu", final: bool = True) -> dict[str, Any]:
        if ecfg.extractor in ("auto", "pixels"):
            out = super().metrics(sets, ecfg, run_dir=run_dir, device=device, final=final)
            # the SWD of points is in their own coordinates: plain "swd"; no feature extractor
            # is involved, so none is named
            return {k.replace("swd/pixels", "swd"): v for k, v in out.items()}
        # an explicit feature extractor: modes in coordinates, the rest in its feature space
        wanted = self.wanted_metrics(ecfg)
        out = (super().metrics(sets, dataclasses.replace(ecfg, metrics=["modes"]))
               if "modes" in wanted else {})
        chosen, source = ev.choose_extractor(self.cfg, self.data, run_dir, device, sets.notes)
        feats, logits = extract_sets(chosen, sets, source)
        out.update(feature_space_metrics(self, sets, ecfg, [w for w in wanted if w != "modes"],
                                         chosen.name, feats, logits, None, run_dir, final,
                                         source))
        return out
