"""What per-class re-weighting changes, measured on a trained conditional critic.

For ``--batches`` critic batches of a run (fakes generated for the real batch's labels, as in the
critic step), the importance weights of Eq. 8 are computed both ways: over the batch
(``conditional.reweight=batch``) and within each class (``class``). Printed per mode: the
effective sample size as a fraction of the batch, the largest weight, and the total-variation
distance between each class's share of the weight and its share of the batch (0 for ``class``
by construction: re-weighting over the batch also moves weight between classes, i.e. changes the
class mix the critic's fake term sees)::

    python benchmarks/conditional_reweight.py /work/bench/cond/digits/cgan-ppo/seed0
"""

from __future__ import annotations

import argparse
import statistics

import torch

from stablegan.models.conditional import per_class_softmax
from stablegan.training.trainer import load_run
from stablegan.variational import effective_sample_size, importance_weights


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--batches", type=int, default=50)
    args = p.parse_args()
    trainer = load_run(args.run, "last.pt")
    m = trainer.method
    k, T = int(m.task.num_classes), m.cfg.variational.temperature
    torch.manual_seed(0)
    out: dict[str, dict[str, list[float]]] = {"batch": {}, "class": {}}
    for _ in range(args.batches):
        real = m.pair.real()
        y = m.pair.real_labels
        with m.pair.matched_labels(True):
            fake = m.pair.fake(m.pair.source(real.shape[0]))
        s = m.critic_scores(fake, "fake")
        counts = torch.bincount(y, minlength=k).double()
        for mode, w in (("batch", importance_weights(s, T)),
                        ("class", per_class_softmax(s, y, k, T))):
            share = torch.zeros(k, dtype=torch.float64).index_add(0, y, w.double())
            tv = 0.5 * float((share / share.sum() - counts / counts.sum()).abs().sum())
            for key, v in (("ess/B", float(effective_sample_size(w)) / len(w)),
                           ("max w", float(w.max())), ("class-share TV", tv)):
                out[mode].setdefault(key, []).append(v)
    print(f"{args.run}: {args.batches} batches of {real.shape[0]}, T={T}")
    for mode, vals in out.items():
        print(f"  {mode:5s} " + "  ".join(f"{key} {statistics.mean(v):.3f}"
                                          for key, v in vals.items()))


if __name__ == "__main__":
    main()
