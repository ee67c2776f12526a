"""The classifier ratio on text at theta = theta_old (issue 18.6): independent draws against
``classifier_same_x``.

Text has no latent z, so with ``variational.ratio=classifier`` (the authors' code) C_old scores
the phase's old samples and C the fresh samples of each inner step: two independent batches.
Before G or C has moved, ``log r = l_old(x_old) - l(x_new)`` is the difference of two independent
logits, not 0. ``classifier_same_x`` scores one x with C and with C's frozen copy: r = 1 exactly.

For a generator (the pre-trained start of benchmarks/text.sh, ``--init-from``) and a ratio
classifier trained ``--c-steps`` BCE steps against it, over ``--phases`` phases of one batch:

* ``at_theta_old``: r at the phase's start, no C step, no G step (theta = theta_old, C = C_old);
* ``first_step``: r at the first inner step of the per_step schedule (one C step first, as the
  authors' code and the text recipes' ppo-gan run it), still before any G step.

Prints one JSON object: mean of the per-phase mean and std of r, and the pooled mean/std::

    OMP_NUM_THREADS=1 python benchmarks/text_ratio_start.py \\
        --init-from /work/bench/text/oracle/pretrained --json
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch


def measure(init_from: str | None, c_steps: int, phases: int, seed: int,
            overrides: list[str]) -> dict[str, object]:
    from stablegan import Trainer
    from stablegan.methods.ppo import ClassifierRatio
    from stablegan.recipes import load_config

    sets = ["method=ppo-gan", "variational.ratio=classifier", "schedule.n_gen=1",
            "log.progress=false", "log.tensorboard=false", *overrides]
    if init_from:
        sets += [f"pretrain.init_from={init_from}", "pretrain.steps=0"]
    cfg = load_config("oracle", overrides=sets, steps=1, seed=seed)
    m = Trainer.from_config(cfg).method
    for _ in range(c_steps):
        stats = m.ratio.update()
    acc = float(stats["classifier/accuracy"]) if c_steps else None
    ratios = {"classifier": m.ratio,
              "classifier_same_x": ClassifierRatio(m, m.C, same_x=True, bn=m.ratio.bn)}
    out: dict[str, object] = {"c_steps": c_steps, "classifier_accuracy": acc,
                              "batch": m.batch_size, "phases": phases}
    for where in ("at_theta_old", "first_step"):
        for name, ratio in ratios.items():
            c_state = copy.deepcopy(m.C.state_dict())
            opt_state = copy.deepcopy(m.optimizers["C"].state_dict())
            torch.manual_seed(seed + 1)  # both variants see the same draws
            means, stds, pooled = [], [], []
            for _ in range(phases):
                z = m.sample_z(m.batch_size)
                ratio.begin_phase(z)
                if where == "first_step":
                    ratio.update()
                with torch.no_grad():
                    r = ratio.log_ratio(ratio.samples(z)).exp()
                means.append(float(r.mean()))
                stds.append(float(r.std()))
                pooled += r.tolist()
                m.C.load_state_dict(c_state)  # every phase starts from the same C
                m.optimizers["C"].load_state_dict(opt_state)
            out[f"{where}/{name}"] = {
                "mean_of_phase_means": statistics.mean(means),
                "mean_of_phase_stds": statistics.mean(stds),
                "pooled_mean": statistics.mean(pooled), "pooled_std": statistics.stdev(pooled),
                "pooled_median": statistics.median(pooled),
                "share_outside_clip_0.4": sum(abs(v - 1) > 0.4 for v in pooled) / len(pooled)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init-from", help="run directory of the pre-trained generator")
    ap.add_argument("--c-steps", type=int, nargs="+", default=[0, 100],
                    help="classifier training steps before measuring (one result each)")
    ap.add_argument("--phases", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    res = [measure(args.init_from, k, args.phases, args.seed, args.overrides)
           for k in args.c_steps]
    doc = {"init_from": args.init_from, "results": res, "seconds": round(time.time() - t0, 1)}
    print(json.dumps(doc, indent=2) if args.json else doc)


if __name__ == "__main__":
    main()
