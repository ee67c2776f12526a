"""The per-class evaluation of a conditional run (``stablegan.metrics.conditional``), in the
domain classifier's feature space.

The generator draws ``m // K`` samples of each class k (``pack(z, k)``); the reference and floor
sets are two disjoint halves of labelled training reals, as for the other metrics. Keys (each
with its ``floor/`` value, the reals of the floor half judged the same way):

* ``class_accuracy/classifier``: share of samples the classifier assigns to the requested class;
* ``intra_fid/classifier``: FID between fakes and reals of one class, averaged over classes;
* ``intra_coverage/classifier``: PRDC coverage within each class, averaged over classes;
* ``misassigned``: the classes whose samples the classifier assigns elsewhere (accuracy below
  ``conditional.misassigned_below`` and another class taking the largest share), by name, or
  ``"none"``; shown under the end table and in the report;
* ``per_class``: the three per-class lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import stablegan.tasks.extractors as ev
from stablegan.metrics.conditional import (
    class_accuracy,
    confusion,
    intra_class_fid,
    misassigned_classes,
    per_class_coverage,
)

KEYS = ("class_accuracy/classifier", "intra_fid/classifier", "intra_coverage/classifier")


@torch.no_grad()
def generate_classes(generator: Any, task: Any, labels: Tensor, device: str,
                     batch: int = 1000) -> Tensor:
    """Samples (evaluation form, CPU) of ``generator`` in eval mode for ``labels``."""
    was = generator.training
    generator.eval()
    try:
        dim = int(generator.latent_dim)
        out = []
        for i in range(0, len(labels), batch):
            y = labels[i:i + batch]
            z = task.class_prior_draw(len(y), dim, y, device)
            out.append(task.to_eval(generator(z)).cpu())
        return torch.cat(out)
    finally:
        generator.train(was)


def conditional_metrics(task: Any, sets: Any, ecfg: Any, run_dir: Path | None,
                        device: str) -> dict[str, Any]:
    """The per-class metrics of the conditional generator ``sets.generator`` (see the module
    docstring); {} with a note when there is no generator or no domain classifier."""
    k = int(task.num_classes)
    if sets.generator is None:
        return {}
    found = ev.classifier_for(task.cfg, task.data, run_dir, device, sets.notes, train=False)
    if found is None:
        sets.notes.append("no per-class metrics: they need the domain classifier ("
                          "'stablegan classifier train')")
        return {}
    ext, path = found
    labelled = task.data.labelled(2 * sets.m, "train")
    if labelled is None:
        return {}
    x, y = labelled
    m = len(x) // 2
    ref_x, ref_y, floor_x, floor_y = x[:m], y[:m], x[m:2 * m], y[m:2 * m]
    per = max(2, sets.m // k)
    fake_y = torch.arange(k).repeat_interleave(per)
    fake = generate_classes(sets.generator, task, fake_y, device)
    f_fake, l_fake = ev.extract(ext, fake, "class-conditional samples", path)
    f_ref, _ = ev.extract(ext, ref_x, "real samples (reference half)", path)
    f_floor, l_floor = ev.extract(ext, floor_x, "real samples (floor half)", path)
    assert l_fake is not None and l_floor is not None
    pred_fake, pred_floor = l_fake.argmax(1), l_floor.argmax(1)
    names = getattr(task.data, "class_names", None)
    out: dict[str, Any] = {}
    acc, acc_per = class_accuracy(fake_y, pred_fake, k)
    fid, fid_per = intra_class_fid(f_fake, fake_y, f_ref, ref_y, k)
    cov, cov_per = per_class_coverage(f_fake, fake_y, f_ref, ref_y, k, int(ecfg.k))
    out[KEYS[0]], out[KEYS[1]], out[KEYS[2]] = acc, fid, cov
    out[f"floor/{KEYS[0]}"] = class_accuracy(floor_y, pred_floor, k)[0]
    out[f"floor/{KEYS[1]}"] = intra_class_fid(f_floor, floor_y, f_ref, ref_y, k)[0]
    out[f"floor/{KEYS[2]}"] = per_class_coverage(f_floor, floor_y, f_ref, ref_y, k,
                                                 int(ecfg.k))[0]
    flagged = misassigned_classes(confusion(fake_y, pred_fake, k),
                                  task.cfg.conditional.misassigned_below, names)
    out["misassigned"] = ", ".join(flagged) if flagged else "none"
    out["per_class"] = {"accuracy": acc_per, "intra_fid": fid_per, "intra_coverage": cov_per,
                        "samples_per_class": per}
    return out
