"""stablegan.metrics.bleu against nltk's bleu_score, sentence by sentence, to 1e-12 (in fact 0).

Random small-vocabulary cases (many n-gram collisions, repeated n-grams, empty sentences), the
edge cases nltk special-cases (no match, hypotheses of length 0 and 1 or shorter than n, ties
in the closest reference length), every smoothing, corpus BLEU, self-BLEU (against nltk with the
hypothesis removed from the references), pairwise BLEU, and Image COCO when the shared data is
present.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")

from conftest import shared_file  # noqa: E402

from stablegan.errors import ConfigError, DataError  # noqa: E402
from stablegan.metrics import bleu as bleu_module  # noqa: E402
from stablegan.metrics.bleu import (  # noqa: E402
    SMOOTHINGS,
    BleuReferences,
    LeaveOneOutReferences,
    bleu,
    corpus_bleu,
    pairwise_bleu,
    self_bleu,
)

TOL = 1e-12
ALL_SMOOTHINGS = (None, *SMOOTHINGS)


def weights(order: int) -> tuple[float, ...]:
    return tuple(1.0 / order for _ in range(order))


def nltk_smoothing(smoothing: str | None):
    return None if smoothing is None else getattr(nltk_bleu.SmoothingFunction(), smoothing)


def nltk_sentence(refs, hyp, order: int, smoothing: str | None = "method1") -> float:
    with warnings.catch_warnings():  # method0 warns on zero counts
        warnings.simplefilter("ignore")
        return nltk_bleu.sentence_bleu(refs, hyp, weights(order),
                                       smoothing_function=nltk_smoothing(smoothing))


def nltk_sentence_orders(refs, hyp, orders, smoothing: str | None = "method1") -> list[float]:
    """One nltk call for several orders (shares the modified precisions: faster)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = nltk_bleu.sentence_bleu(refs, hyp, [weights(n) for n in orders],
                                      smoothing_function=nltk_smoothing(smoothing))
    return out if len(orders) > 1 else [out]


def random_sentences(rng: np.random.Generator, count: int, vocab: int, max_len: int
                     ) -> list[list[int]]:
    return [[int(t) for t in rng.integers(0, vocab, rng.integers(0, max_len + 1))]
            for _ in range(count)]


# --------------------------------------------------------------------------- sentence BLEU


@pytest.mark.slow
def test_random_sentences_match_nltk_bitwise_every_order_and_smoothing():
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(250):
        vocab = int(rng.integers(2, 7))
        refs = random_sentences(rng, int(rng.integers(1, 6)), vocab, 10)
        index = BleuReferences(refs)
        hyp = [int(t) for t in rng.integers(0, vocab + 1, rng.integers(0, 11))]  # vocab: no match
        for smoothing in ALL_SMOOTHINGS:
            ours = index.sentence_bleus(hyp, (1, 2, 3, 4, 5), smoothing)
            ref = nltk_sentence_orders(refs, hyp, (1, 2, 3, 4, 5), smoothing)
            for order, r in zip((1, 2, 3, 4, 5), ref):
                worst = max(worst, abs(ours[order] - r))
                # same operations in the same order as nltk: the same float, not just close
                assert ours[order] == r, (refs, hyp, order, smoothing)
    assert worst <= TOL


@pytest.mark.slow
def test_string_tokens_and_single_order_calls_match_nltk():
    rng = np.random.default_rng(1)
    words = np.array(["a", "dog", "on", "the", "bed", "cat"])
    for _ in range(60):
        refs = [list(words[rng.integers(0, 6, rng.integers(1, 9))]) for _ in range(4)]
        hyp = list(words[rng.integers(0, 6, rng.integers(0, 9))])
        index = BleuReferences(refs, max_order=5)
        for order in (2, 3, 4, 5):
            for smoothing in ("method1", "method4"):
                assert abs(index.sentence_bleu(hyp, order, smoothing)
                           - nltk_sentence(refs, hyp, order, smoothing)) <= TOL


def test_modified_precision_and_closest_length_match_nltk():
    rng = np.random.default_rng(2)
    for _ in range(100):
        refs = random_sentences(rng, int(rng.integers(1, 6)), 3, 9)
        hyp = random_sentences(rng, 1, 4, 9)[0]
        index = BleuReferences(refs, max_order=4)
        for n in (1, 2, 3, 4):
            p = nltk_bleu.modified_precision(refs, hyp, n)
            assert index.modified_precision(hyp, n) == (p.numerator, p.denominator)
        for hyp_len in range(0, 12):
            assert index.closest_ref_length(hyp_len) == nltk_bleu.closest_ref_length(refs, hyp_len)


def test_no_match_at_all_scores_zero_like_nltk():
    refs = [["a", "b", "c"], ["b", "c", "d", "e"]]
    index = BleuReferences(refs)
    for hyp in (["x"], ["x", "y", "z", "w", "v", "u"], []):
        for order in (1, 2, 3, 4, 5):
            for smoothing in ALL_SMOOTHINGS:
                assert index.sentence_bleu(hyp, order, smoothing) == 0.0
                assert nltk_sentence(refs, hyp, order, smoothing) == 0


def test_unigram_but_no_bigram_match_is_smoothed():
    refs = [["a", "b", "c", "d"]]
    hyp = ["d", "c", "b", "a"]  # every unigram matches, no bigram
    index = BleuReferences(refs)
    for smoothing in ALL_SMOOTHINGS:
        for order in (2, 3, 4, 5):
            ours = index.sentence_bleu(hyp, order, smoothing)
            assert abs(ours - nltk_sentence(refs, hyp, order, smoothing)) <= TOL
    # method1: p_1 = 1, p_2 = 0.1 / 3 -> BLEU-2 = sqrt(0.1 / 3); BP = 1 (equal lengths)
    assert abs(index.sentence_bleu(hyp, 2) - (0.1 / 3) ** 0.5) < 1e-15
    # no smoothing: p_2 = sys.float_info.min, tiny but not zero (as nltk)
    assert 0.0 < index.sentence_bleu(hyp, 2, None) < 1e-150


@pytest.mark.parametrize("smoothing", ALL_SMOOTHINGS)
def test_hypotheses_of_length_zero_one_and_shorter_than_n(smoothing):
    refs = [["a"], ["a", "b", "a"], ["b", "b", "c", "a", "d", "e"]]
    index = BleuReferences(refs)
    for hyp in ([], ["a"], ["z"], ["a", "b"], ["b", "a"], ["a", "a"], ["a", "b", "a"]):
        for order in (1, 2, 3, 4, 5):
            ours = index.sentence_bleu(hyp, order, smoothing)
            assert abs(ours - nltk_sentence(refs, hyp, order, smoothing)) <= TOL, (hyp, order)


def test_length_one_hypothesis_under_method4_drops_the_zero_orders_like_nltk():
    # nltk's method4 leaves p_n = 0 for a one-token hypothesis, and zero precisions are left out
    # of the sum: a matching single token scores BP (here 1: a reference of length 1).
    refs = [["a"], ["a", "b", "c"]]
    assert BleuReferences(refs).sentence_bleu(["a"], 4, "method4") == 1.0
    assert nltk_sentence(refs, ["a"], 4, "method4") == 1.0


def test_hypotheses_longer_and_shorter_than_every_reference():
    refs = [["a", "b", "c", "d"], ["b", "c", "d", "a", "b"]]
    index = BleuReferences(refs)
    long_hyp = ["a", "b", "c", "d", "a", "b", "c", "d", "a", "b", "c"]
    short_hyp = ["b", "c"]
    for hyp in (long_hyp, short_hyp):
        for order in (2, 3, 4, 5):
            for smoothing in ("method1", "method4"):
                assert abs(index.sentence_bleu(hyp, order, smoothing)
                           - nltk_sentence(refs, hyp, order, smoothing)) <= TOL
    assert index.closest_ref_length(len(long_hyp)) == 5
    assert index.closest_ref_length(len(short_hyp)) == 4


def test_closest_reference_length_ties_go_to_the_shorter_reference():
    refs = [["a"] * 13, ["a"] * 11, ["b"] * 20]
    index = BleuReferences(refs)
    assert index.closest_ref_length(12) == 11 == nltk_bleu.closest_ref_length(refs, 12)
    hyp = ["a"] * 12  # BP = 1 with r = 11; it would be < 1 with r = 13
    for order in (2, 3, 4, 5):
        assert abs(index.sentence_bleu(hyp, order) - nltk_sentence(refs, hyp, order)) <= TOL
    refs = [["x"] * 3, ["y"] * 7]  # hypothesis length 5: |5 - 3| = |5 - 7|
    hyp = ["x", "x", "y", "y", "z"]
    assert BleuReferences(refs).closest_ref_length(5) == 3
    for smoothing in ("method1", "method4"):
        assert abs(BleuReferences(refs).sentence_bleu(hyp, 2, smoothing)
                   - nltk_sentence(refs, hyp, 2, smoothing)) <= TOL


@pytest.mark.slow
def test_bleu_averages_sentence_bleu_over_hypotheses():
    rng = np.random.default_rng(3)
    refs = random_sentences(rng, 40, 5, 12)
    hyps = random_sentences(rng, 15, 6, 12) + refs[:3]
    orders = (2, 3, 4, 5)
    for smoothing in ("method1", "method4"):
        ours = bleu(hyps, refs, orders, smoothing)
        per_hyp = [nltk_sentence_orders(refs, h, orders, smoothing) for h in hyps]
        for k, order in enumerate(orders):
            expected = sum(s[k] for s in per_hyp) / len(hyps)
            assert abs(ours[order] - expected) <= TOL
    index = BleuReferences(refs)  # an index is reused as it is
    assert bleu(hyps, index, orders) == bleu(hyps, refs, orders)


def test_int_tokens_arrays_and_strings_give_the_same_scores():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    refs = random_sentences(rng, 10, 4, 8)
    hyps = random_sentences(rng, 5, 4, 8)
    as_words = [[f"w{t}" for t in s] for s in refs], [[f"w{t}" for t in s] for s in hyps]
    expected = bleu(hyps, refs)
    assert bleu(*reversed(as_words)) == expected
    assert bleu([np.array(h, dtype=np.int64) for h in hyps],
                [torch.tensor(r, dtype=torch.long) for r in refs]) == expected


# --------------------------------------------------------------------------- corpus BLEU


@pytest.mark.slow
def test_corpus_bleu_matches_nltk():
    rng = np.random.default_rng(5)
    for _ in range(80):
        count = int(rng.integers(1, 6))
        hyps = random_sentences(rng, count, 5, 9)
        lor = [random_sentences(rng, int(rng.integers(1, 4)), 4, 9) for _ in range(count)]
        for order in (1, 2, 3, 4, 5):
            for smoothing in ALL_SMOOTHINGS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = nltk_bleu.corpus_bleu(lor, hyps, weights(order),
                                                smoothing_function=nltk_smoothing(smoothing))
                assert abs(corpus_bleu(lor, hyps, order, smoothing) - ref) <= TOL


def test_corpus_bleu_without_any_unigram_match_is_zero():
    lor = [[["a", "b"]], [["c"]]]
    hyps = [["x", "y"], []]
    assert corpus_bleu(lor, hyps) == 0.0 == nltk_bleu.corpus_bleu(lor, hyps)


# --------------------------------------------------------------------------- self-BLEU


@pytest.mark.slow
def test_leave_one_out_matches_nltk_with_the_hypothesis_removed():
    rng = np.random.default_rng(6)
    for _ in range(60):
        sents = random_sentences(rng, int(rng.integers(2, 8)), 3, 8)
        if rng.random() < 0.5:  # an exact duplicate stays a reference of its twin
            sents.append(list(sents[0]))
        index = LeaveOneOutReferences(sents)
        for j in range(len(sents)):
            others = sents[:j] + sents[j + 1:]
            for smoothing in ("method1", "method4", None):
                ours = index.sentence_bleus(j, (1, 2, 3, 4, 5), smoothing)
                ref = nltk_sentence_orders(others, sents[j], (1, 2, 3, 4, 5), smoothing)
                for order, r in zip((1, 2, 3, 4, 5), ref):
                    assert abs(ours[order] - r) <= TOL, (sents, j, order, smoothing)
            assert index.closest_ref_length(j) == nltk_bleu.closest_ref_length(
                others, len(sents[j]))


def test_leave_one_out_clips_repeated_ngrams_by_the_other_sentences():
    # "a a a" holds (a,) three times, "a a" twice: leaving "a a a" out clips (a,) to 2
    sents = [["a", "a", "a"], ["a", "a"], ["b", "a"], ["a", "a", "a", "b"]]
    index = LeaveOneOutReferences(sents, max_order=3)
    for j in range(len(sents)):
        others = sents[:j] + sents[j + 1:]
        fresh = BleuReferences(others, max_order=3)
        hyp = sents[j]
        for n in (1, 2, 3):
            assert index._precision(hyp, n) == fresh.modified_precision(hyp, n)
        assert index.sentence_bleus(j, (1, 2, 3)) == fresh.sentence_bleus(hyp, (1, 2, 3))


def test_self_bleu_matches_nltk_and_subsamples_hypotheses():
    rng = np.random.default_rng(7)
    sents = random_sentences(rng, 25, 5, 10)
    sents[3] = list(sents[10])
    orders = (2, 3, 4, 5)
    ours = self_bleu(sents, orders)
    per = [nltk_sentence_orders(sents[:j] + sents[j + 1:], sents[j], orders)
           for j in range(len(sents))]
    for k, order in enumerate(orders):
        assert abs(ours[order] - sum(s[k] for s in per) / len(sents)) <= TOL
    sub = self_bleu(sents, orders, n_hypotheses=7, seed=3)
    chosen = sorted(int(i) for i in np.random.default_rng(3).choice(25, 7, replace=False))
    for k, order in enumerate(orders):
        assert abs(sub[order] - sum(per[j][k] for j in chosen) / 7) <= TOL
    assert self_bleu(sents, orders, n_hypotheses=7, seed=3) == sub  # seeded
    assert self_bleu(sents, orders, n_hypotheses=100) == ours  # more than the set: all of it


# --------------------------------------------------------------------------- pairwise BLEU


def test_pairwise_bleu_matches_nltk_with_one_or_several_references():
    rng = np.random.default_rng(8)
    hyps = random_sentences(rng, 30, 5, 10)
    single = random_sentences(rng, 30, 5, 10)
    several = [random_sentences(rng, int(rng.integers(1, 4)), 5, 10) for _ in range(30)]
    for smoothing in ("method4", "method1", None):
        ours = pairwise_bleu(hyps, single, 4, smoothing)
        assert len(ours) == 30
        for h, r, s in zip(hyps, single, ours):
            assert abs(s - nltk_sentence([r], h, 4, smoothing)) <= TOL
        ours = pairwise_bleu(hyps, several, 4, smoothing)
        for h, r, s in zip(hyps, several, ours):
            assert abs(s - nltk_sentence(r, h, 4, smoothing)) <= TOL
    assert pairwise_bleu([["a", "b"]], [[]]) == pairwise_bleu([["a", "b"]], [[[]]])
    words = pairwise_bleu([["the", "food", "was", "great"]], [["the", "food", "is", "great"]])
    assert abs(words[0] - nltk_sentence([["the", "food", "is", "great"]],
                                        ["the", "food", "was", "great"], 4, "method4")) <= TOL


# --------------------------------------------------------------------------- errors, imports


def test_user_errors():
    refs = [["a", "b"], ["b", "c"]]
    index = BleuReferences(refs, max_order=4)
    for bad in (0, 5, -1, 2.0, True):
        with pytest.raises(ConfigError):
            index.sentence_bleu(["a"], bad)
    with pytest.raises(ConfigError):
        bleu([["a"]], refs, orders=())
    with pytest.raises(ConfigError):
        bleu([["a"]], refs, orders=(0, 2))
    with pytest.raises(ConfigError):
        bleu([["a"]], index, orders=(5,))  # beyond the index's max_order
    with pytest.raises(ConfigError):
        index.sentence_bleu(["a"], 2, smoothing="method7")
    with pytest.raises(ConfigError):
        BleuReferences(refs, max_order=0)
    with pytest.raises(DataError):
        BleuReferences([])
    with pytest.raises(DataError):
        bleu([["a"]], [])
    with pytest.raises(DataError):
        bleu([], refs)
    with pytest.raises(DataError):
        index.sentence_bleu("a b", 2)  # an untokenised string
    with pytest.raises(DataError):
        bleu([["a"]], ["a b", "b c"])
    with pytest.raises(DataError):
        self_bleu([["a", "b"]])
    with pytest.raises(ConfigError):
        self_bleu(refs, n_hypotheses=0)
    with pytest.raises(DataError):
        pairwise_bleu([["a"], ["b"]], [["a"]])
    with pytest.raises(DataError):
        corpus_bleu([[["a"]]], [["a"], ["b"]])
    with pytest.raises(DataError):
        corpus_bleu([[]], [["a"]])


def test_module_does_not_import_nltk():
    tree = ast.parse(Path(bleu_module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "nltk" not in imported


# --------------------------------------------------------------------------- Image COCO


def coco(split: str, n: int) -> list[list[str]]:
    path = shared_file(f"text/coco/{split}.txt")
    from nltk.tokenize import word_tokenize

    with path.open(encoding="utf-8") as f:
        lines = []
        for line in f:
            if line.strip():
                lines.append(line)
            if len(lines) == n:
                break
    return [word_tokenize(line.lower(), preserve_line=True) for line in lines]


@pytest.mark.slow
def test_coco_bleu_matches_nltk():
    refs = coco("test", 2000)
    hyps = coco("train", 30) + refs[:3] + refs[1500:1502]  # a few are references themselves
    orders = (2, 3, 4, 5)
    index = BleuReferences(refs)
    ours = bleu(hyps, index, orders)
    per = []
    for h in hyps:
        mine = index.sentence_bleus(h, orders)
        ref = nltk_sentence_orders(refs, h, orders)
        for k, order in enumerate(orders):
            assert abs(mine[order] - ref[k]) <= TOL
        per.append(ref)
    for k, order in enumerate(orders):
        assert abs(ours[order] - sum(s[k] for s in per) / len(hyps)) <= TOL
    assert ours[2] > ours[3] > ours[4] > ours[5] > 0.0
    for h in refs[:3]:
        assert index.sentence_bleu(h, 5) == 1.0  # a reference scores 1 against its set


@pytest.mark.slow
def test_coco_self_bleu_matches_nltk():
    sents = coco("train", 300)
    orders = (2, 3, 4, 5)
    ours = self_bleu(sents, orders, n_hypotheses=8, seed=1)
    chosen = sorted(int(i) for i in np.random.default_rng(1).choice(300, 8, replace=False))
    per = [nltk_sentence_orders(sents[:j] + sents[j + 1:], sents[j], orders) for j in chosen]
    for k, order in enumerate(orders):
        assert abs(ours[order] - sum(s[k] for s in per) / len(chosen)) <= TOL
