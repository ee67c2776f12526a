"""``oracle``: the synthetic-data benchmark of SeqGAN (Yu et al. 2017) and RelGAN (Nie et al. 2019).

The oracle is an :class:`~stablegan.models.text.LSTMGenerator` with ``V = 5000`` tokens (plain ids
``0..V-1``, no special tokens), embedding and hidden size 32, every parameter drawn from N(0, 1)
with a ``torch.Generator`` seeded by ``oracle_seed``. It defines an exactly computable
distribution ``p_o`` over sentences of ``max_len`` tokens; the data are ``oracle_train`` (10,000)
training and ``oracle_test`` (5,000) held-out sentences sampled from it (the held-out split is the
test sample). A generator ``G`` is judged by

    NLL_oracle(G) = E_{x ~ G} [ -(1/T) sum_t log p_o(x_t | x_<t) ]

(:meth:`OracleSource.nll_oracle` on ``G``'s samples; lower is better). On the oracle's own samples
this is a Monte Carlo estimate of the oracle's per-token entropy rate ``H(p_o) / T``, the value a
perfect generator reaches.

Cache. The oracle's weights and both samples are one ``torch.save`` of a dict of tensors (read
back with ``torch.load(weights_only=True)``), written to a temporary file beside the target,
fsynced and renamed over it (``os.replace``), so a killed build never leaves a partial file. The
file name holds every parameter that changes its content (vocabulary, sizes, init std, sentence
length, oracle seed, both sample counts), e.g. ``oracle-V5000-E32-H32-std1-T20-seed0-n10000-
m5000.pt``: unlike TextGAN-PyTorch, which keys its samples on the count alone and silently reuses
length-20 data for length 40, a different length never reuses a cache. A cache file that cannot
be read or does not match its name is rebuilt (with a warning).

Config (read with ``getattr``, so any object with these attributes works): ``max_len`` (20;
RelGAN also uses 40), ``oracle_seed`` (0), ``oracle_train`` (10,000), ``oracle_test`` (5,000),
``oracle_vocab`` (5,000: the oracle's vocabulary V),
``path`` (the cache folder; default ``<cache>/oracle`` with ``<cache>`` = ``$STABLEGAN_CACHE_DIR``,
else ``$XDG_CACHE_HOME/stablegan``, else ``~/.cache/stablegan``) and ``max_items`` (keep only the
first N training sentences). ``holdout_fraction`` is ignored: the held-out split is the test
sample.

Determinism: the same ``oracle_seed`` ``s`` gives the same oracle and the same sentences: the
weights, training and test sentences come from their own ``torch.Generator`` seeded ``4 s``,
``4 s + 1`` and ``4 s + 2`` (never the global RNG, which building leaves untouched; sampling in
fixed chunks of :data:`SAMPLE_CHUNK`), so the test sentences do not depend on ``oracle_train``. A
different ``oracle_seed`` gives another oracle. The run ``seed`` only orders the training epochs.
(Float rounding may differ between CPUs/torch builds; the cache pins the data once built.)
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stablegan.core.cache import cache_dir
from stablegan.core.files import atomic_write
from stablegan.data.base import FiniteSource
from stablegan.errors import ConfigError, DataError
from stablegan.models.text import LSTMGenerator

ORACLE_VOCAB = 5000
ORACLE_EMBED = 32
ORACLE_HIDDEN = 32
ORACLE_STD = 1.0
DEFAULTS: dict[str, int] = {
    "max_len": 20,
    "oracle_seed": 0,
    "oracle_train": 10_000,
    "oracle_test": 5_000,
    "oracle_vocab": ORACLE_VOCAB,
}
SAMPLE_CHUNK = 1000  # sentences per sampling call; part of the data's definition
NLL_CHUNK = 1000  # sentences per likelihood call (memory O(chunk * V))
# seeds 4 s + stream for oracle seed s: weights, training and test sentences never share a stream
_WEIGHT_STREAM, _TRAIN_STREAM, _TEST_STREAM = 0, 1, 2

__all__ = [
    "DEFAULTS",
    "ORACLE_VOCAB",
    "OracleSource",
    "build_oracle_data",
    "cache_file_name",
    "default_cache_dir",
    "make_oracle",
    "oracle",
]


def default_cache_dir() -> Path:
    """``<cache>/oracle`` (``<cache>`` as in :func:`stablegan.core.cache.cache_dir`)."""
    return cache_dir() / "oracle"


def cache_file_name(
    max_len: int,
    oracle_seed: int,
    n_train: int,
    n_test: int,
    vocab_size: int = ORACLE_VOCAB,
    embed_dim: int = ORACLE_EMBED,
    hidden_dim: int = ORACLE_HIDDEN,
    std: float = ORACLE_STD,
) -> str:
    """The cache file name: every parameter that changes the file's content."""
    return (
        f"oracle-V{vocab_size}-E{embed_dim}-H{hidden_dim}-std{std:g}-T{max_len}"
        f"-seed{oracle_seed}-n{n_train}-m{n_test}.pt"
    )


def make_oracle(
    max_len: int,
    oracle_seed: int,
    vocab_size: int = ORACLE_VOCAB,
    embed_dim: int = ORACLE_EMBED,
    hidden_dim: int = ORACLE_HIDDEN,
    std: float = ORACLE_STD,
) -> LSTMGenerator:
    """A fresh oracle: every parameter N(0, std^2) from a generator seeded with ``4 *
    oracle_seed``; eval mode, gradients off. The global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        net = LSTMGenerator(vocab_size, max_len, embed_dim, hidden_dim)
    net.init_normal_(std, torch.Generator().manual_seed(4 * int(oracle_seed) + _WEIGHT_STREAM))
    net.init, net.init_std = "normal", float(std)
    return _freeze(net)


def _freeze(net: LSTMGenerator) -> LSTMGenerator:
    net.eval()
    net.requires_grad_(False)
    return net


@torch.no_grad()
def _draw(net: LSTMGenerator, n: int, seed: int) -> Tensor:
    """``n`` sentences from ``net`` using a generator seeded with ``seed`` (fixed chunks)."""
    gen = torch.Generator().manual_seed(int(seed))
    parts = [net.sample(min(SAMPLE_CHUNK, n - i), gen) for i in range(0, n, SAMPLE_CHUNK)]
    return torch.cat(parts) if parts else torch.empty(0, net.max_len, dtype=torch.long)


def build_oracle_data(
    max_len: int, oracle_seed: int, n_train: int, n_test: int, vocab_size: int = ORACLE_VOCAB
) -> dict[str, Tensor]:
    """The cache content: ``oracle.<parameter>`` tensors, ``train`` (n_train, T) and ``test``
    (n_test, T) int64 sentences."""
    net = make_oracle(max_len, oracle_seed, vocab_size)
    out = {f"oracle.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    out["train"] = _draw(net, n_train, 4 * oracle_seed + _TRAIN_STREAM)
    out["test"] = _draw(net, n_test, 4 * oracle_seed + _TEST_STREAM)
    return out


def _check_cache(
    data: Any, max_len: int, n_train: int, n_test: int, vocab_size: int = ORACLE_VOCAB
) -> tuple[LSTMGenerator, Tensor, Tensor]:
    """The oracle and samples of a loaded cache; ValueError when it does not match its name."""
    if not isinstance(data, dict):
        raise ValueError(f"holds a {type(data).__name__}, not a dict of tensors")
    with torch.random.fork_rng(devices=[]):  # the weights are overwritten below
        net = LSTMGenerator(vocab_size, max_len, ORACLE_EMBED, ORACLE_HIDDEN)
    state = {k[len("oracle."):]: v for k, v in data.items() if k.startswith("oracle.")}
    net.load_state_dict(state, strict=True)  # RuntimeError on missing keys / wrong shapes
    net.init, net.init_std = "normal", ORACLE_STD
    train, test = data.get("train"), data.get("test")
    for name, x, n in (("train", train, n_train), ("test", test, n_test)):
        if not isinstance(x, Tensor) or x.dtype != torch.long or tuple(x.shape) != (n, max_len):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"'{name}' is {got}, expected int64 ({n}, {max_len})")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab_size):
            raise ValueError(f"'{name}' holds ids outside [0, {vocab_size})")
    assert isinstance(train, Tensor) and isinstance(test, Tensor)
    return _freeze(net), train, test


def load_or_build(
    folder: Path, max_len: int, oracle_seed: int, n_train: int, n_test: int,
    vocab_size: int = ORACLE_VOCAB,
) -> tuple[LSTMGenerator, Tensor, Tensor, Path]:
    """``(oracle, train, test, cache path)``, read from ``folder`` or built and cached there."""
    path = folder / cache_file_name(max_len, oracle_seed, n_train, n_test, vocab_size)
    if path.is_file():
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            net, train, test = _check_cache(data, max_len, n_train, n_test, vocab_size)
            return net, train, test, path
        except Exception as err:  # torch.load raises many types for corrupt/unsafe files
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            warnings.warn(f"oracle cache {path} is unusable ({reason}); rebuilding it",
                          stacklevel=3)
    data = build_oracle_data(max_len, oracle_seed, n_train, n_test, vocab_size)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: torch.save(data, tmp))
    except OSError as err:
        warnings.warn(f"could not cache the oracle data in {path}: {err.strerror or err}; "
                      "it will be rebuilt next time", stacklevel=3)
    net, train, test = _check_cache(data, max_len, n_train, n_test, vocab_size)
    return net, train, test, path


class OracleSource(FiniteSource):
    """The oracle's training sentences as a :class:`FiniteSource` (task "text", int64 samples of
    shape ``(max_len,)``); the held-out split is the test sample.

    Attributes: ``oracle`` (the frozen :class:`LSTMGenerator`, eval mode), ``vocab_size``,
    ``max_len``, ``oracle_seed``, ``cache_path``, ``build_seconds`` (time spent building, 0 when
    read from the cache).
    """

    def __init__(
        self,
        seed: int,
        max_len: int = DEFAULTS["max_len"],
        oracle_seed: int = DEFAULTS["oracle_seed"],
        n_train: int = DEFAULTS["oracle_train"],
        n_test: int = DEFAULTS["oracle_test"],
        cache: str | Path | None = None,
        max_items: int | None = None,
        vocab_size: int = DEFAULTS["oracle_vocab"],
    ) -> None:
        for what, value, low in (("data.max_len", max_len, 1), ("data.oracle_train", n_train, 1),
                                 ("data.oracle_test", n_test, 1), ("data.oracle_seed",
                                                                   oracle_seed, 0),
                                 ("data.oracle_vocab", vocab_size, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{what} must be an integer >= {low}, got {value!r}",
                                  hint=f"for example --set {what}={DEFAULTS[what[5:]]}")
        if max_items is not None and (not isinstance(max_items, int) or max_items < 1):
            raise ConfigError(f"data.max_items must be a positive integer, got {max_items!r}",
                              hint="leave data.max_items unset to use every training sentence")
        folder = Path(cache).expanduser() if cache else default_cache_dir()
        if folder.exists() and not folder.is_dir():
            raise DataError(f"oracle cache folder '{folder}' is a file",
                            hint="set data.path to a folder (the oracle's cache)")
        t0 = time.perf_counter()
        name = cache_file_name(max_len, oracle_seed, n_train, n_test, vocab_size)
        existed = (folder / name).is_file()
        net, train, test, path = load_or_build(folder, max_len, oracle_seed, n_train, n_test,
                                               vocab_size)
        self.build_seconds = 0.0 if existed else time.perf_counter() - t0
        if max_items is not None:
            train = train[:max_items]
        x = torch.cat([train, test])
        super().__init__("oracle", "text", x, None, seed, holdout_fraction=0.0,
                         dtype=torch.int64)
        # the held-out split is the oracle's test sample, not a random fraction
        n = train.shape[0]
        self._split_idx = {
            "train": torch.arange(n),
            "holdout": torch.arange(n, n + test.shape[0]),
        }
        self.oracle = net
        self.vocab_size = net.vocab_size
        self.max_len = max_len
        self.oracle_seed = oracle_seed
        self.cache_path = path

    @torch.no_grad()
    def nll_oracle(self, tokens: Tensor) -> float:
        """The oracle's mean per-token NLL of ``tokens`` (n, max_len): NLL_oracle when they are a
        generator's samples."""
        tokens = self.oracle.check_tokens(tokens.cpu())
        if tokens.shape[0] == 0:
            raise DataError("nll_oracle needs at least one sentence", hint="pass samples (n, T)")
        total = 0.0
        for i in range(0, tokens.shape[0], NLL_CHUNK):
            total += float(self.oracle.nll(tokens[i : i + NLL_CHUNK]).double().sum())
        return total / tokens.shape[0]

    @staticmethod
    def decode(ids: Tensor) -> list[str]:
        """Display strings ``"w12 w7 ..."`` of sentences (n, T) (or one sentence (T,))."""
        rows = ids.reshape(1, -1) if ids.dim() == 1 else ids
        return [" ".join(f"w{int(t)}" for t in row) for row in rows.tolist()]


def oracle(cfg: Any, seed: int) -> OracleSource:
    """The ``oracle`` source for a data config (fields in the module docstring)."""
    vals = {k: v if (v := getattr(cfg, k, None)) is not None else d for k, d in DEFAULTS.items()}
    return OracleSource(
        seed,
        max_len=vals["max_len"],
        oracle_seed=vals["oracle_seed"],
        n_train=vals["oracle_train"],
        n_test=vals["oracle_test"],
        cache=getattr(cfg, "path", None),
        max_items=getattr(cfg, "max_items", None),
        vocab_size=vals["oracle_vocab"],
    )
