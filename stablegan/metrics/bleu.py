"""BLEU, self-BLEU and corpus BLEU for text GANs: nltk's numbers, computed without its loops.

Text-GAN papers (Texygen, TextGAN-PyTorch) score every generated sentence ``h`` against the
*whole* test set ``R`` with ``nltk.translate.bleu_score.sentence_bleu`` and average. BLEU-N is

    BLEU-N(h, R) = BP * exp( sum_{n=1..N} (1/N) * log p_n )

    p_n = sum_g min(c_h(g), M_n(g)) / max(1, sum_g c_h(g)),   M_n(g) = max_{r in R} c_r(g)

where ``g`` runs over the n-grams of ``h``, ``c_s(g)`` is the number of times ``g`` occurs in
``s`` and ``M_n(g)`` its largest count in any one reference (the "clipped" count). The brevity
penalty uses the reference length ``r`` closest to ``|h|`` (a tie goes to the shorter length):

    BP = 1 if |h| > r,   0 if |h| = 0,   exp(1 - r / |h|) otherwise.

nltk recomputes ``M_n`` by counting every reference's n-grams for every hypothesis and every
order, i.e. ``O(|R|)`` work per score. ``M_n`` only depends on ``R``, so :class:`BleuReferences`
builds it once (one dict n-gram -> max count per order, plus the sorted distinct reference
lengths for a bisection) and each score then costs ``O(|h|)``.

Self-BLEU scores each sentence against all the *other* sentences of a set. Removing one sentence
``j`` from ``R`` changes ``M_n`` only for the n-grams of ``j``, and the clipped count needs only
``min(c_j(g), max_{r != j} c_r(g))``. With ``S_c(g)`` = the number of sentences holding ``g`` at
least ``c`` times, sentence ``j`` itself is counted in ``S_c(g)`` for every ``c <= c_j(g)``, so

    min(c_j(g), max_{r != j} c_r(g)) = max{ c <= c_j(g) : S_c(g) >= 2 }   (0 if there is none).

:class:`LeaveOneOutReferences` stores ``S_1`` for every n-gram and ``S_c, c >= 2`` only for the
rare n-grams repeated inside a sentence, so leaving a sentence out is ``O(1)`` per n-gram; the
closest length excluding ``j`` comes from the multiset of lengths the same way.

Exactness. Every number follows nltk's own arithmetic (nltk 3.8-3.10 ``bleu_score.py``), so
scores agree with nltk to the last bit rather than to a tolerance:

* ``p_n`` is an unnormalised ``Fraction``; ``math.log`` turns it into ``num / den`` (int true
  division, correctly rounded), which is what we compute.
* No unigram match at all (including an empty hypothesis): the score is 0, whatever the
  smoothing (nltk returns before smoothing).
* An order with no match (or a hypothesis shorter than ``n``: no n-grams, ``p_n = 0/1``):

  - ``None``/``"method0"`` (no smoothing): ``p_n = sys.float_info.min``, so the score is tiny but
    not 0 (nltk also warns; we do not, as the metric is called in loops);
  - ``"method1"``: ``p_n = (0 + 0.1) / den``;
  - ``"method2"``: ``p_n = (num + 1) / (den + 1)`` for every order but the first;
  - ``"method3"``: ``p_n = 1 / (2**k * den)``, ``k = 1, 2, ...`` counting the zero orders;
  - ``"method4"``: ``p_n = (1 / (2**k * 5 / ln L)) / den`` with the same ``k`` and ``L`` the
    hypothesis length (the total hypothesis length for corpus BLEU); when ``L = 1`` nltk leaves
    ``p_n = 0`` and such orders are *dropped* from the sum, so a one-token hypothesis that
    matches scores ``BP``.

* The final score is ``BP * exp(math.fsum(w * log p_n for p_n > 0))`` with ``w = 1 / N``.

Sentences are sequences of tokens (``str`` or ``int``; numpy arrays and tensors of token ids are
accepted through ``.tolist()``). nltk is not needed here; it is the reference in the tests.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from stablegan.errors import ConfigError, DataError

__all__ = [
    "SMOOTHINGS",
    "BleuReferences",
    "LeaveOneOutReferences",
    "bleu",
    "corpus_bleu",
    "pairwise_bleu",
    "self_bleu",
]

Token = str | int
Sentence = Sequence[Token]

#: Chen & Cherry (2014) smoothing methods implemented, named as in nltk's ``SmoothingFunction``.
SMOOTHINGS = ("method0", "method1", "method2", "method3", "method4")
_EPSILON = 0.1  # nltk SmoothingFunction(epsilon=0.1): method1
_K = 5  # nltk SmoothingFunction(k=5): method4


# --------------------------------------------------------------------------- input checks


def _sentence(x: Any, what: str) -> list[Token] | tuple[Token, ...]:
    """One sentence as a list/tuple of hashable tokens (``.tolist()`` for arrays and tensors)."""
    if isinstance(x, (str, bytes)):
        raise DataError(
            f"{what} is a string ({x[:40]!r}), not a sequence of tokens",
            hint="tokenise it first, e.g. sentence.split()",
        )
    if hasattr(x, "tolist"):
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        try:
            x = list(x)
        except TypeError:
            raise DataError(
                f"{what} is a {type(x).__name__}, not a sequence of tokens",
                hint="pass each sentence as a list of str or int tokens",
            ) from None
    if x and isinstance(x[0], (list, tuple)):
        raise DataError(
            f"{what} is a sequence of sequences, not a sequence of tokens",
            hint="pass each sentence as a flat list of str or int tokens",
        )
    return x


def _sentences(xs: Any, what: str) -> list[list[Token] | tuple[Token, ...]]:
    if isinstance(xs, (str, bytes)):
        raise DataError(
            f"{what} is a string, not a list of tokenised sentences",
            hint="pass a list of sentences, each a list of tokens",
        )
    if hasattr(xs, "tolist"):
        xs = xs.tolist()
    return [_sentence(x, f"{what}[{i}]") for i, x in enumerate(xs)]


def _check_order(order: Any, max_order: int, what: str = "order") -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise ConfigError(
            f"{what} must be an int n-gram order, got {order!r}",
            hint="BLEU-4 is order=4; orders are 1 to 5 in text-GAN papers",
        )
    if not 1 <= order <= max_order:
        raise ConfigError(
            f"{what} {order} is outside 1..{max_order}",
            hint=f"use 1 <= order <= {max_order} (raise max_order to index longer n-grams)",
        )
    return int(order)


def _check_orders(orders: Any, max_order: int) -> tuple[int, ...]:
    if isinstance(orders, (int, np.integer)) and not isinstance(orders, bool):
        orders = (orders,)
    try:
        orders = tuple(orders)
    except TypeError:
        raise ConfigError(
            f"orders must be a sequence of ints, got {orders!r}", hint="e.g. orders=(2, 3, 4, 5)"
        ) from None
    if not orders:
        raise ConfigError("orders is empty", hint="e.g. orders=(2, 3, 4, 5)")
    return tuple(_check_order(n, max_order, "orders entry") for n in orders)


def _check_smoothing(smoothing: str | None) -> str:
    if smoothing is None:
        return "method0"
    if smoothing not in SMOOTHINGS:
        raise ConfigError(
            f"unknown BLEU smoothing {smoothing!r}",
            hint=f"use None (no smoothing) or one of {', '.join(SMOOTHINGS)}",
        )
    return smoothing


def _check_max_order(max_order: Any) -> int:
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) or max_order < 1:
        raise ConfigError(
            f"max_order must be an int >= 1, got {max_order!r}", hint="BLEU-2..5 needs max_order=5"
        )
    return int(max_order)


# --------------------------------------------------------------------------- nltk's arithmetic


def _ngram_counts(tokens: Sequence[Token], n: int) -> Counter:
    """``Counter`` of the n-grams (tuples) of ``tokens``; empty when ``len(tokens) < n``."""
    return Counter(zip(*[tokens[i:] for i in range(n)]))


def _closest(below: int | None, above: int | None, hyp_len: int) -> int:
    """The closer of two candidate lengths around ``hyp_len`` (a tie goes to ``below``)."""
    if below is None:
        assert above is not None
        return above
    if above is None or hyp_len - below <= above - hyp_len:
        return below
    return above


def _score(
    nums: Sequence[int],
    dens: Sequence[int],
    hyp_len: int,
    ref_len: int,
    smoothing: str,
) -> float:
    """nltk ``corpus_bleu``'s final step for uniform weights over orders ``1..len(nums)``.

    ``nums``/``dens`` are the (summed) modified-precision numerators and denominators,
    ``hyp_len`` the (total) hypothesis length and ``ref_len`` the (total) closest reference
    length. Same operations in the same order as nltk, hence the same floats.
    """
    if nums[0] == 0:  # no unigram match: nltk returns 0 before smoothing
        return 0.0
    if hyp_len > ref_len:
        bp = 1.0
    elif hyp_len == 0:  # pragma: no cover - unreachable: nums[0] > 0 needs a token
        return 0.0
    else:
        bp = math.exp(1 - ref_len / hyp_len)
    weight = 1.0 / len(nums)
    terms = []
    k = 1  # nltk's ``incvnt`` (method3, method4)
    for i, (num, den) in enumerate(zip(nums, dens)):
        if smoothing == "method2" and i != 0:
            p = (num + 1) / (den + 1)
        elif num != 0:
            p = num / den
        elif smoothing == "method1":
            p = (num + _EPSILON) / den
        elif smoothing == "method0":
            p = sys.float_info.min
        elif smoothing == "method3":
            p = 1 / (2**k * den)
            k += 1
        elif smoothing == "method4":
            if hyp_len > 1:
                p = 1 / (2**k * _K / math.log(hyp_len)) / den
                k += 1
            else:
                continue  # nltk keeps p_n = 0 and drops it from the sum
        else:  # pragma: no cover - checked by _check_smoothing
            raise AssertionError(smoothing)
        terms.append(weight * math.log(p))
    return bp * math.exp(math.fsum(terms))


# --------------------------------------------------------------------------- reference indexes


class BleuReferences:
    """A reference set indexed once for BLEU: per order, n-gram -> max count over references.

    ``BleuReferences(test_sentences).sentence_bleu(hyp, 4)`` equals
    ``nltk.translate.bleu_score.sentence_bleu(test_sentences, hyp, (0.25,) * 4,
    smoothing_function=SmoothingFunction().method1)``; the index serves every hypothesis and
    every order ``1..max_order``.
    """

    def __init__(self, references: Iterable[Sentence], max_order: int = 5) -> None:
        self.max_order = _check_max_order(max_order)
        refs = _sentences(references, "references")
        if not refs:
            raise DataError(
                "the reference set is empty", hint="pass at least one tokenised reference sentence"
            )
        self.n_references = len(refs)
        # No reference has an n-gram longer than the longest reference: no table for those.
        top = min(self.max_order, max(len(r) for r in refs))
        seen: list[set] = [set() for _ in range(top)]
        repeated: list[dict] = [{} for _ in range(top)]  # n-grams with count >= 2
        lengths = set()
        for ref in refs:
            length = len(ref)
            lengths.add(length)
            # All unigrams distinct => all n-grams distinct (equal n-grams share their first
            # token), so the common case is a plain set update.
            distinct = len(set(ref)) == length
            for n in range(1, min(length, top) + 1):
                grams = zip(*[ref[i:] for i in range(n)])
                if distinct:
                    seen[n - 1].update(grams)
                    continue
                counts = Counter(grams)
                seen[n - 1].update(counts.keys())
                if len(counts) == length - n + 1:
                    distinct = True  # and so for every higher order
                    continue
                rep = repeated[n - 1]
                for gram, c in counts.items():
                    if c > 1 and c > rep.get(gram, 1):
                        rep[gram] = c
        self._max: list[dict] = []
        for n in range(top):
            table = dict.fromkeys(seen[n], 1)
            table.update(repeated[n])
            self._max.append(table)
        self._lengths = sorted(lengths)

    def max_count(self, ngram: Sequence[Token]) -> int:
        """Largest number of times ``ngram`` occurs in one reference (0 if in none)."""
        n = len(ngram)
        if not 1 <= n <= len(self._max):
            return 0
        return self._max[n - 1].get(tuple(ngram), 0)

    def closest_ref_length(self, hyp_len: int) -> int:
        """nltk ``closest_ref_length``: the reference length nearest ``hyp_len``, ties shorter."""
        lens = self._lengths
        i = bisect_left(lens, hyp_len)
        if i < len(lens) and lens[i] == hyp_len:
            return hyp_len
        return _closest(lens[i - 1] if i > 0 else None, lens[i] if i < len(lens) else None,
                        hyp_len)

    def modified_precision(self, hypothesis: Sentence, n: int) -> tuple[int, int]:
        """nltk ``modified_precision`` as ``(numerator, denominator)``, unnormalised."""
        n = _check_order(n, self.max_order, "n")
        hyp = _sentence(hypothesis, "hypothesis")
        return self._precision(hyp, n)

    def _precision(self, hyp: Sequence[Token], n: int) -> tuple[int, int]:
        if n > len(self._max):  # longer than every reference
            return 0, max(1, len(hyp) - n + 1)
        counts = _ngram_counts(hyp, n)
        table = self._max[n - 1]
        num = 0
        for gram, c in counts.items():
            m = table.get(gram)
            if m:
                num += c if c < m else m
        return num, max(1, len(hyp) - n + 1)

    def _precisions(self, hyp: Sequence[Token], top: int) -> tuple[list[int], list[int]]:
        nums, dens = [], []
        for n in range(1, top + 1):
            num, den = self._precision(hyp, n)
            nums.append(num)
            dens.append(den)
        return nums, dens

    def sentence_bleu(
        self, hypothesis: Sentence, order: int = 4, smoothing: str | None = "method1"
    ) -> float:
        """BLEU-``order`` of one hypothesis against all references (uniform weights)."""
        return self.sentence_bleus(hypothesis, (order,), smoothing)[order]

    def sentence_bleus(
        self,
        hypothesis: Sentence,
        orders: Iterable[int] = (2, 3, 4, 5),
        smoothing: str | None = "method1",
    ) -> dict[int, float]:
        """BLEU-n of one hypothesis for each ``n`` in ``orders``, counting its n-grams once."""
        orders = _check_orders(orders, self.max_order)
        smoothing = _check_smoothing(smoothing)
        return self._scores(_sentence(hypothesis, "hypothesis"), orders, smoothing)

    def _scores(self, hyp: Sequence[Token], orders: tuple[int, ...], smoothing: str
                ) -> dict[int, float]:
        nums, dens = self._precisions(hyp, max(orders))
        ref_len = self.closest_ref_length(len(hyp))
        return {n: _score(nums[:n], dens[:n], len(hyp), ref_len, smoothing) for n in orders}


class LeaveOneOutReferences:
    """A sentence set indexed for self-BLEU: sentence ``j`` against all the other sentences.

    ``LeaveOneOutReferences(sents).sentence_bleus(j)`` equals nltk's ``sentence_bleu`` of
    ``sents[j]`` against ``sents[:j] + sents[j + 1:]`` (an identical copy of ``sents[j]``
    elsewhere in the set stays a reference). See the module docstring for the counts ``S_c``.
    """

    def __init__(self, sentences: Iterable[Sentence], max_order: int = 5) -> None:
        self.max_order = _check_max_order(max_order)
        self.sentences = _sentences(sentences, "sentences")
        if len(self.sentences) < 2:
            raise DataError(
                f"self-BLEU needs at least 2 sentences, got {len(self.sentences)}",
                hint="each sentence is scored against the other sentences of the set",
            )
        # _once[n-1][g] = S_1(g): sentences holding g; _more[n-1][(g, c)] = S_c(g) for c >= 2.
        top = min(self.max_order, max(len(s) for s in self.sentences))
        self._once: list[Counter] = [Counter() for _ in range(top)]
        self._more: list[Counter] = [Counter() for _ in range(top)]
        for sent in self.sentences:
            length = len(sent)
            distinct = len(set(sent)) == length
            for n in range(1, min(length, top) + 1):
                grams = zip(*[sent[i:] for i in range(n)])
                if distinct:
                    self._once[n - 1].update(grams)
                    continue
                counts = Counter(grams)
                self._once[n - 1].update(counts.keys())
                if len(counts) == length - n + 1:
                    distinct = True
                    continue
                more = self._more[n - 1]
                for gram, c in counts.items():
                    for level in range(2, c + 1):
                        more[(gram, level)] += 1
        self._length_counts = Counter(len(s) for s in self.sentences)
        self._lengths = sorted(self._length_counts)

    def __len__(self) -> int:
        return len(self.sentences)

    def closest_ref_length(self, index: int) -> int:
        """Closest length to sentence ``index``'s among the other sentences (ties shorter)."""
        hyp_len = len(self.sentences[index])
        if self._length_counts[hyp_len] >= 2:
            return hyp_len
        lens = self._lengths
        i = bisect_left(lens, hyp_len)  # lens[i] == hyp_len, held by this sentence only
        return _closest(lens[i - 1] if i > 0 else None,
                        lens[i + 1] if i + 1 < len(lens) else None, hyp_len)

    def _precision(self, hyp: Sequence[Token], n: int) -> tuple[int, int]:
        if n > len(self._once):  # longer than every sentence
            return 0, max(1, len(hyp) - n + 1)
        once, more = self._once[n - 1], self._more[n - 1]
        num = 0
        for gram, c in _ngram_counts(hyp, n).items():
            if once[gram] >= 2:
                clipped = 1
                while clipped < c and more.get((gram, clipped + 1), 0) >= 2:
                    clipped += 1
                num += clipped
        return num, max(1, len(hyp) - n + 1)

    def sentence_bleus(
        self,
        index: int,
        orders: Iterable[int] = (2, 3, 4, 5),
        smoothing: str | None = "method1",
    ) -> dict[int, float]:
        """BLEU-n of sentence ``index`` against all the other sentences, for ``n`` in orders."""
        orders = _check_orders(orders, self.max_order)
        smoothing = _check_smoothing(smoothing)
        if not -len(self) <= index < len(self):
            raise DataError(f"sentence index {index} out of range for {len(self)} sentences")
        return self._scores(index % len(self), orders, smoothing)

    def _scores(self, index: int, orders: tuple[int, ...], smoothing: str) -> dict[int, float]:
        hyp = self.sentences[index]
        nums, dens = [], []
        for n in range(1, max(orders) + 1):
            num, den = self._precision(hyp, n)
            nums.append(num)
            dens.append(den)
        ref_len = self.closest_ref_length(index)
        return {n: _score(nums[:n], dens[:n], len(hyp), ref_len, smoothing) for n in orders}


# --------------------------------------------------------------------------- metrics


def bleu(
    hypotheses: Iterable[Sentence],
    references: Iterable[Sentence] | BleuReferences,
    orders: Iterable[int] = (2, 3, 4, 5),
    smoothing: str | None = "method1",
) -> dict[int, float]:
    """Texygen BLEU: mean over hypotheses of BLEU-n against the whole reference set.

    ``{n: mean_h sentence_bleu(references, h, (1/n,) * n, method1)}``; the references are
    indexed once (pass a :class:`BleuReferences` to reuse an index across calls).
    """
    if isinstance(references, BleuReferences):
        index = references
        orders = _check_orders(orders, index.max_order)
    else:
        orders = _check_orders(orders, 10**9)
        index = BleuReferences(references, max_order=max(orders))
    smoothing = _check_smoothing(smoothing)
    hyps = _sentences(hypotheses, "hypotheses")
    if not hyps:
        raise DataError("no hypotheses to score", hint="pass at least one generated sentence")
    scores: dict[int, list[float]] = {n: [] for n in orders}
    for hyp in hyps:
        for n, s in index._scores(hyp, orders, smoothing).items():
            scores[n].append(s)
    return {n: sum(v) / len(v) for n, v in scores.items()}


def self_bleu(
    sentences: Iterable[Sentence],
    orders: Iterable[int] = (2, 3, 4, 5),
    n_hypotheses: int | None = None,
    seed: int = 0,
    smoothing: str | None = "method1",
) -> dict[int, float]:
    """Self-BLEU (Texygen): mean BLEU-n of sentences against all the *other* sentences.

    Lower is more diverse. ``n_hypotheses`` scores a random subset (drawn with
    ``numpy.random.default_rng(seed)``, used in index order) of the sentences, each still against
    all the others; ``None`` or a number ``>= len(sentences)`` scores every sentence.
    """
    orders = _check_orders(orders, 10**9)
    smoothing = _check_smoothing(smoothing)
    index = LeaveOneOutReferences(sentences, max_order=max(orders))
    total = len(index)
    if n_hypotheses is None or n_hypotheses >= total:
        chosen: Iterable[int] = range(total)
    else:
        if isinstance(n_hypotheses, bool) or not isinstance(n_hypotheses, (int, np.integer)) \
                or n_hypotheses < 1:
            raise ConfigError(
                f"n_hypotheses must be None or an int >= 1, got {n_hypotheses!r}",
                hint="None scores every sentence",
            )
        rng = np.random.default_rng(seed)
        chosen = sorted(int(i) for i in rng.choice(total, size=int(n_hypotheses), replace=False))
    scores: dict[int, list[float]] = {n: [] for n in orders}
    for j in chosen:
        for n, s in index._scores(j, orders, smoothing).items():
            scores[n].append(s)
    return {n: sum(v) / len(v) for n, v in scores.items()}


def _reference_list(item: Any, what: str) -> list[list[Token] | tuple[Token, ...]]:
    """One reference (a sentence) or several (a list of sentences) -> a list of sentences."""
    if isinstance(item, (str, bytes)):
        _sentence(item, what)  # raises
    if hasattr(item, "tolist"):
        item = item.tolist()
    item = list(item)
    if not item:  # an empty reference sentence (an empty list of references means nothing)
        return [item]
    if isinstance(item[0], (list, tuple)) or hasattr(item[0], "tolist"):
        return _sentences(item, what)
    return [_sentence(item, what)]


def pairwise_bleu(
    hypotheses: Sequence[Sentence],
    references_per_hypothesis: Sequence[Sentence | Sequence[Sentence]],
    order: int = 4,
    smoothing: str | None = "method4",
) -> list[float]:
    """BLEU-``order`` of each hypothesis against its own reference(s) (nltk ``sentence_bleu``).

    Style transfer: "BLEU against the human reference" is the mean of this list, 4-gram with
    smoothing method4. Each entry of ``references_per_hypothesis`` is one reference sentence or a
    list of reference sentences (an empty entry is one empty reference).
    """
    order = _check_order(order, 10**9)
    smoothing = _check_smoothing(smoothing)
    hyps = _sentences(hypotheses, "hypotheses")
    refs = list(references_per_hypothesis)
    if len(refs) != len(hyps):
        raise DataError(
            f"{len(hyps)} hypotheses but {len(refs)} reference entries",
            hint="pass one reference (or one list of references) per hypothesis",
        )
    out = []
    for i, (hyp, item) in enumerate(zip(hyps, refs)):
        index = BleuReferences(_reference_list(item, f"references_per_hypothesis[{i}]"), order)
        out.append(index._scores(hyp, (order,), smoothing)[order])
    return out


def corpus_bleu(
    list_of_references: Sequence[Sequence[Sentence]],
    hypotheses: Sequence[Sentence],
    order: int = 4,
    smoothing: str | None = None,
) -> float:
    """nltk ``corpus_bleu`` with uniform weights: precisions and lengths summed over the corpus.

    ``list_of_references[i]`` is the list of references of ``hypotheses[i]`` (content
    preservation: ``[[source] for source in inputs]`` against the outputs). nltk's default is no
    smoothing (``None``).
    """
    order = _check_order(order, 10**9)
    smoothing = _check_smoothing(smoothing)
    hyps = _sentences(hypotheses, "hypotheses")
    refs = list(list_of_references)
    if len(refs) != len(hyps):
        raise DataError(
            f"{len(hyps)} hypotheses but {len(refs)} reference lists",
            hint="pass one list of references per hypothesis",
        )
    if not hyps:
        raise DataError("no hypotheses to score", hint="pass at least one sentence")
    nums, dens = [0] * order, [0] * order
    hyp_total = ref_total = 0
    for i, (hyp, item) in enumerate(zip(hyps, refs)):
        index = BleuReferences(_sentences(item, f"list_of_references[{i}]"), order)
        n_i, d_i = index._precisions(hyp, order)
        for n in range(order):
            nums[n] += n_i[n]
            dens[n] += d_i[n]
        hyp_total += len(hyp)
        ref_total += index.closest_ref_length(len(hyp))
    return _score(nums, dens, hyp_total, ref_total, smoothing)
