"""Images: (C, H, W) tensors in [-1, 1] (digits, MNIST, CIFAR-10, image folders).

Shown as an image grid; warned about when generated values leave the data's range; evaluated in
pixel space (``swd/pixels``, always) and in the feature space ``eval.extractor`` chooses (a
domain classifier, Inception-v3 or pixels; see ``stablegan.evaluation``): FID, KID, IS,
precision/recall/density/coverage, SWD, class coverage and KL, memorisation.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import stablegan.tasks.extractors as ev
from stablegan.errors import ConfigError
from stablegan.metrics.api import evaluate
from stablegan.tasks.base import EvalSets, Task

_CLASS = ("class_coverage", "class_kl")
_NAMES = {"fake": "generated samples", "ref": "real samples (reference half)",
          "floor": "real samples (floor half)", "held": "held-out real samples"}


class ImagesTask(Task):
    name = "images"
    n_display = 64  # an 8x8 grid
    overfit_check = True
    shows_nearest_pairs = True
    domain_classifier = True

    def __init__(self, data: Any, cfg: Any) -> None:
        super().__init__(data, cfg)
        self._range: tuple[float, float] | None = None
        self._range_warned = False

    def render(self, samples: Tensor, path: Path, title: str = "") -> None:
        from stablegan.reports.plots import save_samples

        save_samples(samples, path, kind="image", title=title)

    def describe_shape_mismatch(self, got: tuple[int, ...], want: tuple[int, ...]) -> str:
        if len(got) != 3 or len(want) != 3:
            return "samples"
        parts = []
        if got[0] != want[0]:
            parts.append(f"{got[0]} channel(s) instead of {want[0]}")
        if got[1:] != want[1:]:
            parts.append(f"{got[1]}x{got[2]} pixels instead of {want[1]}x{want[2]}")
        return "images with " + " and ".join(parts) if parts else "samples"

    # ------------------------------------------------------------------ range check
    def _data_range(self) -> tuple[float, float] | None:
        if self._range is None:
            try:
                reals = self.data.reals(256)
                if reals is not None and reals.numel() and torch.isfinite(reals).all():
                    self._range = (float(reals.min()), float(reals.max()))
            except Exception:  # noqa: BLE001 - only a warning depends on it
                self._range = None
        return self._range

    def watch_samples(self, fake: Tensor, step: int) -> None:
        """Warn once when generated images lie far outside the data's value range: beyond
        [lo, hi] by more than half the span, e.g. outside [-2, 2] for data in [-1, 1] --
        typically a generator without a final tanh, or data not scaled to [-1, 1]."""
        if self._range_warned:
            return
        rng = self._data_range()
        fake = fake.detach()
        if rng is None or not fake.numel() or not torch.isfinite(fake).all():
            return
        lo, hi = rng
        margin = 0.5 * max(hi - lo, 1e-6)
        f_lo, f_hi = float(fake.min()), float(fake.max())
        if f_lo < lo - margin or f_hi > hi + margin:
            self._range_warned = True
            print(f"warning: generated images span [{f_lo:.3g}, {f_hi:.3g}] at step {step} "
                  f"but the data lies in [{lo:.3g}, {hi:.3g}]; the generator's output range "
                  "does not match the data (image generators should end in tanh for data in "
                  "[-1, 1])", file=sys.stderr)

    # ------------------------------------------------------------------ evaluation
    def check_metric_applies(self, name: str) -> None:
        if name == "modes":
            raise ConfigError(f"eval.metrics asks for 'modes' but data '{self.data.name}' holds "
                              "images", hint="'modes' is for toy mixtures (ring, grid); for "
                                             "images use 'class' (class coverage by the domain "
                                             "classifier)")

    def preflight(self, ecfg: Any, run_dir: Path | None) -> None:
        super().preflight(ecfg, run_dir)
        if ecfg.extractor == "classifier":
            if (ev.find_classifier(self.cfg, run_dir, self.data)[0] is None
                    and not ev.can_auto_train(self.data)):
                raise ev.no_classifier(self.cfg, self.data, run_dir)

    def possible_keys(self, ecfg: Any) -> set[str]:
        from stablegan.tasks.conditional_eval import KEYS

        return ev.feature_space_keys(ecfg, [w for w in ev.metric_list(ecfg.metrics)
                                            if w != "modes"]) | {"swd/pixels"} | (
            set(KEYS) if self.conditional else set())

    def metrics(self, sets: EvalSets, ecfg: Any, *, run_dir: Path | None = None,
                device: str = "cpu", final: bool = True) -> dict[str, Any]:
        cfg, data, notes = self.cfg, self.data, sets.notes
        wanted = ev.metric_list(ecfg.metrics)
        for name in wanted:
            self.check_metric_applies(name)
        out: dict[str, Any] = {}
        out.update(evaluate(sets.fake, sets.ref, ["swd"], "pixels", real_holdout=sets.floor,
                            seed=0))
        out.pop("extractor", None)
        chosen, source = ev.choose_extractor(cfg, data, run_dir, device, notes)
        space = chosen.name
        feats, logits = extract_sets(chosen, sets, source)
        class_src = self._class_source(space, logits, sets, wanted, run_dir, device, notes)
        if not wanted:
            wanted = ev.default_image_metrics(space, feats["fake"].shape[1],
                                              logits.get("fake") is not None,
                                              class_src is not None
                                              and class_src[0] == "classifier", notes)
        if space == "pixels":
            wanted = [w for w in wanted if w != "swd"]
        out.update(feature_space_metrics(self, sets, ecfg, wanted, space, feats, logits,
                                         class_src, run_dir, final, source))
        if "classifier" not in out and class_src is not None and class_src[0] == "classifier":
            out["classifier"] = str(self._class_file)  # class metrics: the file that judged
        if self.conditional:  # per-class metrics (stablegan.tasks.conditional_eval)
            from stablegan.tasks.conditional_eval import conditional_metrics

            out.update(conditional_metrics(self, sets, ecfg, run_dir, device))
        return out

    def _class_source(self, space: str, logits: dict[str, Tensor | None], sets: EvalSets,
                      wanted: list[str], run_dir: Path | None, device: str,
                      notes: list[str]) -> tuple[str, dict[str, Tensor | None]] | None:
        """Class predictions: the domain classifier (the space itself, or found on disk)."""
        if space == "classifier":
            return ("classifier", logits)
        if any(w in wanted for w in (*_CLASS, "is")) or not wanted:
            found = ev.classifier_for(self.cfg, self.data, run_dir, device, notes, train=False)
            if found is not None:
                cls_ext, cls_path = found
                self._class_file = cls_path
                return ("classifier", {key: ev.extract(cls_ext, x, _NAMES[key], cls_path)[1]
                                       for key, x in (("fake", sets.fake), ("ref", sets.ref),
                                                      ("floor", sets.floor))})
            if logits.get("fake") is not None and wanted:
                return (space, logits)
        return None


def extract_sets(chosen: Any, sets: EvalSets, source: Path | None
                 ) -> tuple[dict[str, Tensor], dict[str, Tensor | None]]:
    """Features and logits of every sample set in the space of ``chosen``."""
    feats, logits = {}, {}
    for key, x in (("fake", sets.fake), ("ref", sets.ref), ("floor", sets.floor),
                   ("held", sets.held)):
        if x is not None:
            feats[key], logits[key] = ev.extract(chosen, x, _NAMES[key], source)
    return feats, logits


def feature_space_metrics(task: Task, sets: EvalSets, ecfg: Any, wanted: list[str], space: str,
                          feats: dict[str, Tensor], logits: dict[str, Tensor | None],
                          class_src: tuple[str, dict[str, Tensor | None]] | None,
                          run_dir: Path | None, final: bool,
                          source: Path | None) -> dict[str, Any]:
    """The distance, class and memorisation metrics of ``wanted`` in feature space ``space``."""
    notes, k, out = sets.notes, int(ecfg.k), {}
    ext = ev.Precomputed(space, {id(feats[key]): logits.get(key) for key in feats})
    task.check_counts(wanted, sets, {**task.metric_options(ecfg), "is_splits": ev.IS_SPLITS})
    if "is" in wanted and logits.get("fake") is None:
        raise ConfigError(f"metric 'is' needs class logits, which the '{space}' features lack",
                          hint="use --set eval.extractor=classifier (or inception), or leave "
                               "'is' out of eval.metrics")
    dist = [w for w in wanted if w not in (*_CLASS, "memorisation")]
    if dist:
        res = evaluate(feats["fake"], feats["ref"], dist, ext, real_holdout=feats["floor"], k=k,
                       seed=0, is_splits=ev.IS_SPLITS)
        if "notes" in res:
            notes.append(str(res["notes"]))
        out.update({key: v for key, v in res.items() if key not in ("extractor", "notes")})
    if any(w in _CLASS for w in wanted):
        if class_src is None:
            raise ConfigError(f"class metrics need class predictions, and there is no domain "
                              f"classifier for data '{task.data.name}'",
                              hint=ev.classifier_hint(task.cfg, run_dir))
        cname, clogits = class_src
        cs = {key: clogits[key] for key in ("fake", "ref", "floor")}
        cext = ev.Precomputed(cname, {id(v): v for v in cs.values()})
        res = evaluate(cs["fake"], cs["ref"], [w for w in wanted if w in _CLASS], cext,
                       real_holdout=cs["floor"], num_classes=int(cs["fake"].shape[1]))
        out.update({key: v for key, v in res.items() if key not in ("extractor", "notes")})
    if "memorisation" in wanted:
        out.update(_memorisation(task, sets, feats, ext, run_dir, final))
    out["extractor"] = space
    if source is not None:
        out["classifier"] = str(source)
    return out


def _memorisation(task: Task, sets: EvalSets, feats: dict[str, Tensor], ext: Any,
                  run_dir: Path | None, final: bool) -> dict[str, Any]:
    """Near-duplicates of the training set: both halves (floor: the held-out split), or the
    reference half (floor: the floor half) for data without a held-out split."""
    if sets.held is not None:
        train_f = torch.cat([feats["ref"], feats["floor"]])
        train_x = torch.cat([sets.ref, sets.floor])
        res = evaluate(feats["fake"], train_f, ["memorisation"], ext,
                       real_holdout=feats["held"], seed=0)
    else:
        train_f, train_x = feats["ref"], sets.ref
        res = evaluate(feats["fake"], train_f, ["memorisation"], ext,
                       real_holdout=feats["floor"], seed=0)
    if final and run_dir is not None and task.shows_nearest_pairs:
        ev.save_pairs(sets.fake, train_x, feats["fake"], train_f, run_dir)
    return {key: v for key, v in res.items() if key not in ("extractor", "notes")}
