"""Wall time of each metric of ``stablegan.metrics.evaluate`` on 10,000 samples.

Feature sizes: 64 (digits pixels, 1x8x8), 128 (the digits domain classifier's penultimate layer)
and 2048 (Inception-v3 pool features). Samples are Gaussian features (fake: N(0, I), real:
N(0.1, I)); "logits" for IS and class coverage are the first 10 (64/128-d) or 1008 (2048-d)
feature columns. Feature extraction is not timed (features are given); floors are not computed
(a floor costs the same as its metric). Prints a markdown table.

    python benchmarks/bench_metric_timing.py [--n 10000] [--dims 64,128,2048] [--threads T]
    python benchmarks/bench_metric_timing.py --fid-classifier [PATH] [--n 10000]

``--fid-classifier``: FID end to end with the offline extractor (``eval.extractor=classifier``):
the digits domain classifier (default: the cached one, ``<cache>/classifiers/digits.pt``, as
training writes it) extracts the 128-d features of ``n`` generated and ``n`` real 1x8x8 samples
(uniform noise in [-1, 1] and digits training images drawn with replacement; the cost does not
depend on the values), then FID; prints one JSON object of seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from stablegan.metrics import evaluate

GROUPS = ("fid", "kid", "is", "prdc", "swd", "class", "memorisation")


def time_metrics(n: int, dim: int, seed: int = 0) -> dict[str, float]:
    gen = torch.Generator().manual_seed(seed)
    fake = torch.randn(n, dim, generator=gen)
    real = torch.randn(n, dim, generator=gen) + 0.1
    n_logits = 10 if dim < 1008 else 1008

    def features_and_logits(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x[:, :n_logits]

    timing: dict[str, float] = {}
    for group in GROUPS:  # one call per group, so each gets the machine to itself
        t0 = time.perf_counter()
        _, t = evaluate(fake, real, [group], features_and_logits, return_timing=True)
        timing[group] = t[group]
        timing[f"total/{group}"] = time.perf_counter() - t0
    return timing


def time_fid_with_classifier(path: str | None, n: int, seed: int = 0) -> dict[str, Any]:
    """Seconds of classifier feature extraction (both sets) and of FID on ``n`` + ``n``."""
    from stablegan.classifier import default_classifier_path
    from stablegan.config import DataConfig
    from stablegan.data import build_data
    from stablegan.metrics.features import ClassifierExtractor, load_domain_classifier

    file = Path(path) if path else default_classifier_path(DataConfig(name="digits"))
    ext = ClassifierExtractor(load_domain_classifier(file))
    gen = torch.Generator().manual_seed(seed)
    fake = torch.rand((n, *ext.model.input_shape), generator=gen) * 2 - 1
    digits = build_data(DataConfig(name="digits"), seed).reals(10_000_000, "train")
    real = digits[torch.randint(0, len(digits), (n,), generator=gen)]
    t0 = time.perf_counter()
    res, timing = evaluate(fake, real, ["fid"], ext, return_timing=True)
    total = time.perf_counter() - t0
    return {"n": n, "classifier": str(file), "feature_dim": int(ext(fake[:1]).shape[1]),
            "fid_value": round(float(res["fid/classifier"]), 3),
            "seconds_fid": round(timing["fid"], 3),
            "seconds_extraction_and_fid": round(total, 3),
            "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dims", default="64,128,2048")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--fid-classifier", nargs="?", const="", default=None, metavar="PATH",
                    help="FID end to end with the digits classifier extractor (see above)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.fid_classifier is not None:
        print(json.dumps(time_fid_with_classifier(args.fid_classifier or None, args.n)))
        return
    dims = [int(d) for d in args.dims.split(",")]
    print(f"# metric timing: n={args.n} fake and {args.n} real samples, "
          f"{torch.get_num_threads()} torch thread(s), {os.cpu_count()} CPU(s), "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}\n")
    results = {}
    for d in dims:
        t0 = time.perf_counter()
        results[d] = time_metrics(args.n, d)
        print(f"  {d}-d done in {time.perf_counter() - t0:.1f} s", flush=True)
    labels = {"fid": "FID", "kid": "KID (100 subsets of 1000)", "is": "IS (10 splits)",
              "prdc": "precision/recall/density/coverage (k=5)", "swd": "SWD (128 projections)",
              "class": "class coverage + KL", "memorisation": "memorisation (NN to 10k reals)"}
    print("\n| metric | " + " | ".join(f"{d}-d" for d in dims) + " |")
    print("|---|" + "---:|" * len(dims))
    for g in GROUPS:
        print(f"| {labels[g]} | " + " | ".join(f"{results[d][g]:.2f} s" for d in dims) + " |")
    print("| **all of the above** | " + " | ".join(
        f"{sum(results[d][g] for g in GROUPS):.1f} s" for d in dims) + " |")


if __name__ == "__main__":
    main()
