"""Text metrics, registered in the metric registry (they need the samples as token ids).

* ``bleu2`` .. ``bleu5`` (alias ``bleu``): nltk's ``sentence_bleu`` with uniform weights and
  smoothing method1, each of the first ``eval.bleu_hypotheses`` (200, as TextGAN-PyTorch)
  generated sentences against the whole test set, averaged (Texygen's BLEU), computed exactly by
  :mod:`stablegan.metrics.bleu`. The floor is the same for as many real training sentences. The
  final evaluation states the set sizes: ``bleu_hypotheses``, ``bleu_references``.
* ``self_bleu2`` .. ``self_bleu5`` (alias ``self_bleu``): each of the first
  ``eval.self_bleu_hypotheses`` (200) generated sentences against all other generated sentences
  of the evaluation set (``self_bleu_hypotheses`` and ``self_bleu_set`` state the sizes).
* ``nll_oracle``: the oracle's mean per-token NLL of the generated sentences (oracle data only).
* ``nll_gen``: the generator's per-token NLL of the *training* set over all ``max_len``
  positions, padding included: the published convention (TextGAN-PyTorch's and RelGAN's
  ``nll_gen``, e.g. RelGAN's 0.756 on COCO); ``nll_gen_test``: the same on the test split;
  ``nll_gen_test_unpadded``: the test split over the positions up to and including the first
  ``<eos>`` (corpora only). No floor.
* ``unique_ngrams``: the number of distinct 2-, 3- and 4-grams of the generated set
  (``unique_2grams`` ...).
"""

from __future__ import annotations

import torch

from stablegan.metrics.bleu import LeaveOneOutReferences
from stablegan.metrics.registry import Context, Metric, Side, register_alias, register_metric

ORDERS = (2, 3, 4, 5)


def _bleu(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    task, n = ctx.task, ctx.opts.get("bleu_hypotheses", 200)
    hyps = task.tokens(fake.x[:n])
    index = task.bleu_index()
    out = _mean_by_order([index.sentence_bleus(h, ORDERS, "method1") for h in hyps], "bleu", ctx)
    # the set sizes, stated with the scores (final evaluation only; see evaluation._SETUP)
    return {**out, "bleu_hypotheses": float(len(hyps)),
            "bleu_references": float(len(task.references()))}


def _mean_by_order(scores: list[dict[int, float]], prefix: str, ctx: Context
                   ) -> dict[str, float]:
    wanted = ctx.opts.get("wanted")
    return {f"{prefix}{o}": sum(s[o] for s in scores) / len(scores) for o in ORDERS
            if wanted is None or f"{prefix}{o}" in wanted}


def _self_bleu(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    task, n = ctx.task, ctx.opts.get("self_bleu_hypotheses", 200)
    sentences = task.tokens(fake.x)
    loo = LeaveOneOutReferences(sentences, max_order=5)
    scores = [loo.sentence_bleus(j, ORDERS, "method1") for j in range(min(n, len(sentences)))]
    return {**_mean_by_order(scores, "self_bleu", ctx),
            "self_bleu_hypotheses": float(len(scores)), "self_bleu_set": float(len(sentences))}


def _nll_oracle(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    return {"nll_oracle": float(ctx.task.data.nll_oracle(fake.x))}


@torch.no_grad()
def _mean_nll(G: torch.nn.Module, rows: torch.Tensor, pad_id: int | None = None) -> float:
    """The mean over ``rows`` of ``G.nll`` (every position, or up to the first <eos>)."""
    device = next(G.parameters()).device
    out = [G.nll(rows[i:i + 256].to(device), pad_id=pad_id).cpu()
           for i in range(0, len(rows), 256)]
    return float(torch.cat(out).mean())


@torch.no_grad()
def _nll_gen(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    task, G = ctx.task, ctx.opts.get("generator")
    if G is None:
        return {}
    train = task.data.reals(10**9, "train")
    test = task.data.reals(10**9, "holdout")
    was = G.training
    G.eval()
    try:
        out = {"nll_gen": _mean_nll(G, train), "nll_gen_test": _mean_nll(G, test)}
        if task.has_specials:
            out["nll_gen_test_unpadded"] = _mean_nll(G, test, pad_id=0)
    finally:
        G.train(was)
    return out


def _unique_ngrams(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    sentences = ctx.task.tokens(fake.x)
    out = {}
    for n in (2, 3, 4):
        grams = {tuple(s[i:i + n]) for s in sentences for i in range(len(s) - n + 1)}
        out[f"unique_{n}grams"] = float(len(grams))
    return out


def _register() -> None:
    for order in ORDERS:
        register_metric(Metric(f"bleu{order}", _bleu, needs="samples", group="bleu",
                               keys=(f"bleu{order}", "bleu_hypotheses", "bleu_references"),
                               description=f"BLEU-{order} against the test set (Texygen)"))
        register_metric(Metric(f"self_bleu{order}", _self_bleu, needs="samples",
                               keys=(f"self_bleu{order}", "self_bleu_hypotheses",
                                     "self_bleu_set"),
                               group="self_bleu", min_samples=2, floor=False,
                               why="self-BLEU needs another generated sentence",
                               description=f"self-BLEU-{order} of the generated set"))
    register_alias("bleu", [f"bleu{o}" for o in ORDERS])
    register_alias("self_bleu", [f"self_bleu{o}" for o in ORDERS])
    register_metric(Metric("nll_oracle", _nll_oracle, needs="samples",
                           description="the oracle's per-token NLL of generated sentences"))
    register_metric(Metric("nll_gen", _nll_gen, needs="samples",
                           keys=("nll_gen", "nll_gen_test", "nll_gen_test_unpadded"),
                           floor=False,
                           description="the generator's per-token NLL of the training set "
                                       "(published convention) and of the test set"))
    register_metric(Metric("unique_ngrams", _unique_ngrams, needs="samples",
                           keys=("unique_2grams", "unique_3grams", "unique_4grams"),
                           description="distinct n-grams of the generated set"))


_register()
