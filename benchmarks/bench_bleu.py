"""BLEU-2..5 on Image COCO: ``stablegan.metrics.bleu`` against nltk looped over hypotheses.

Texygen's BLEU: train sentences as hypotheses, the whole ``test.txt`` as references, nltk
``sentence_bleu`` with uniform weights and smoothing method1, averaged over hypotheses. Lines are
lower-cased and tokenised with nltk ``word_tokenize(line, preserve_line=True)`` (not timed).

Ours is timed on all ``--hyps`` hypotheses, index build included. nltk is far too slow for that,
so it is timed on the first ``--nltk-hyps`` hypotheses and its per-hypothesis time extrapolated
to ``--hyps`` (stated as such in the output), in two ways:

* ``texygen``: one ``sentence_bleu`` call per order, as Texygen and TextGAN-PyTorch do;
* ``multi``: one ``sentence_bleu`` call with the four weight tuples (nltk >= 3.8 shares the
  modified precisions between them) - nltk's fastest use.

The per-sentence scores of the common hypotheses are compared (max absolute difference).

    python benchmarks/bench_bleu.py [--hyps 200] [--refs 10000] [--nltk-hyps 10] [--data DIR]
                                    [--json]

``--data`` is the folder holding ``train.txt`` and ``test.txt``; by default
``$STABLEGAN_SHARED/data/text/coco`` or ``shared/data/text/coco`` beside (or above) the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

from stablegan.metrics.bleu import BleuReferences, bleu

ORDERS = (2, 3, 4, 5)


def shared_data_dir() -> Path | None:
    """``$STABLEGAN_SHARED`` (the ``shared`` folder or its ``data``) or ``shared/data`` above."""
    candidates = []
    env = os.environ.get("STABLEGAN_SHARED")
    if env:
        candidates += [Path(env) / "data", Path(env)]
    repo = Path(__file__).resolve().parents[1]
    candidates += [parent / "shared" / "data" for parent in repo.parents]
    for c in candidates:
        if (c / "text").is_dir():
            return c
    return None


def load(path: Path, n: int) -> list[list[str]]:
    from nltk.tokenize import word_tokenize

    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()][:n]
    return [word_tokenize(ln.lower(), preserve_line=True) for ln in lines]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hyps", type=int, default=200)
    ap.add_argument("--refs", type=int, default=10_000)
    ap.add_argument("--nltk-hyps", type=int, default=10)
    ap.add_argument("--data", type=Path, default=None, help="folder with train.txt and test.txt")
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args()

    data = args.data
    if data is None:
        shared = shared_data_dir()
        if shared is None:
            raise SystemExit("COCO data not found: pass --data DIR or set STABLEGAN_SHARED")
        data = shared / "text" / "coco"
    hyps = load(data / "train.txt", args.hyps)
    refs = load(data / "test.txt", args.refs)

    t0 = time.perf_counter()
    ours = bleu(hyps, refs, ORDERS)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = BleuReferences(refs, max_order=max(ORDERS))
    t_index = time.perf_counter() - t0

    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    method1 = SmoothingFunction().method1
    weights = [tuple(1.0 / n for _ in range(n)) for n in ORDERS]
    sub = hyps[: args.nltk_hyps]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        texygen = [[sentence_bleu(refs, h, w, smoothing_function=method1) for w in weights]
                   for h in sub]
        t_texygen = time.perf_counter() - t0
        t0 = time.perf_counter()
        multi = [sentence_bleu(refs, h, weights, smoothing_function=method1) for h in sub]
        t_multi = time.perf_counter() - t0
    mine = [index.sentence_bleus(h, ORDERS) for h in sub]
    max_diff = max(
        max(abs(m[n] - t[k]), abs(m[n] - u[k]))
        for m, t, u in zip(mine, texygen, multi)
        for k, n in enumerate(ORDERS)
    )
    per_texygen = t_texygen / len(sub)
    per_multi = t_multi / len(sub)
    result = {
        "hypotheses": len(hyps),
        "references": len(refs),
        "orders": list(ORDERS),
        "bleu": {str(n): ours[n] for n in ORDERS},
        "ours_s": t_ours,
        "ours_index_build_s": t_index,
        "nltk_hypotheses_timed": len(sub),
        "nltk_texygen_s_per_hyp": per_texygen,
        "nltk_multi_s_per_hyp": per_multi,
        "nltk_texygen_s_extrapolated": per_texygen * len(hyps),
        "nltk_multi_s_extrapolated": per_multi * len(hyps),
        "speedup_vs_texygen": per_texygen * len(hyps) / t_ours,
        "speedup_vs_multi": per_multi * len(hyps) / t_ours,
        "max_abs_diff": max_diff,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
    }
    print(f"Image COCO: {len(hyps)} hypotheses x {len(refs)} references, BLEU-2..5, method1")
    print("  " + "  ".join(f"BLEU-{n} {ours[n]:.4f}" for n in ORDERS))
    print(f"  ours:  {t_ours:.3f} s in all (index build alone {t_index:.3f} s)")
    print(f"  nltk, one call per order (Texygen): {per_texygen:.3f} s/hyp, timed on {len(sub)}"
          f" -> {per_texygen * len(hyps):.1f} s extrapolated to {len(hyps)}"
          f" ({result['speedup_vs_texygen']:.0f}x)")
    print(f"  nltk, one call for all orders:      {per_multi:.3f} s/hyp, timed on {len(sub)}"
          f" -> {per_multi * len(hyps):.1f} s extrapolated to {len(hyps)}"
          f" ({result['speedup_vs_multi']:.0f}x)")
    print(f"  max |ours - nltk| over {len(sub)} x {len(ORDERS)} scores: {max_diff:.3g}")
    print(f"  machine: {result['machine']}")
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
