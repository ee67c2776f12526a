"""Tests of stablegan.data.oracle: the real oracle network (V=5000, 32/32, N(0, 1)) with few
sentences so each build takes well under a second: determinism, cache keys (length 20 vs 40
never collide), atomic writes, weights_only loading, the source contract and NLL_oracle."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from stablegan.data import oracle as oracle_mod
from stablegan.data.oracle import (
    ORACLE_VOCAB,
    OracleSource,
    cache_file_name,
    default_cache_dir,
    make_oracle,
    oracle,
)
from stablegan.errors import ConfigError, DataError

T = 6
N_TRAIN, N_TEST = 48, 24


def build(folder: Path, **kw: object) -> OracleSource:
    args: dict[str, object] = dict(max_len=T, n_train=N_TRAIN, n_test=N_TEST, cache=folder)
    args.update(kw)
    return OracleSource(0, **args)  # type: ignore[arg-type]


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_source_contract(tmp_path: Path) -> None:
    state = torch.random.get_rng_state()
    src = build(tmp_path)
    assert torch.equal(state, torch.random.get_rng_state())  # building leaves the global RNG
    assert src.task == "text" and src.name == "oracle"
    assert src.sample_shape == (T,) and src.vocab_size == ORACLE_VOCAB and src.size == N_TRAIN
    batch = src.sample(16)
    assert batch.dtype == torch.int64 and batch.shape == (16, T)
    assert int(batch.min()) >= 0 and int(batch.max()) < ORACLE_VOCAB
    data = torch.load(src.cache_path, weights_only=True)
    assert torch.equal(src.reals(1000).sort(0).values, data["train"].sort(0).values)
    hold = src.reals(1000, "holdout")
    assert hold.shape == (N_TEST, T)
    assert {tuple(r) for r in hold.tolist()} == {tuple(r) for r in data["test"].tolist()}
    net = src.oracle
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.init == "normal" and net.vocab_size == ORACLE_VOCAB and net.hidden_dim == 32
    # resumable like every FiniteSource
    st = src.state_dict()
    nxt = src.sample(8)
    src.load_state_dict(st)
    assert torch.equal(src.sample(8), nxt)
    assert build(tmp_path, max_items=10).size == 10


def test_decode() -> None:
    ids = torch.tensor([[12, 7, 0], [1, 2, 4999]])
    assert OracleSource.decode(ids) == ["w12 w7 w0", "w1 w2 w4999"]
    assert OracleSource.decode(ids[0]) == ["w12 w7 w0"]


@pytest.mark.slow
def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    a = build(tmp_path / "a")
    b = build(tmp_path / "b")  # built again from scratch in another folder
    assert torch.equal(a.reals(100), b.reals(100))
    assert torch.equal(a.reals(100, "holdout"), b.reals(100, "holdout"))
    assert all(torch.equal(p, q) for p, q in zip(a.oracle.parameters(), b.oracle.parameters()))
    assert torch.equal(make_oracle(T, 0).out.weight, a.oracle.out.weight)
    c = build(tmp_path / "a", oracle_seed=1)
    assert not torch.equal(a.oracle.out.weight, c.oracle.out.weight)
    assert not torch.equal(a.reals(100), c.reals(100))
    # the test sentences do not depend on how many training sentences were drawn
    d = build(tmp_path / "a", n_train=N_TRAIN + 8)
    assert torch.equal(d.reals(100, "holdout"), a.reals(100, "holdout"))
    # the run seed only orders the epochs
    e = OracleSource(5, max_len=T, n_train=N_TRAIN, n_test=N_TEST, cache=tmp_path / "a")
    assert torch.equal(e.reals(100), a.reals(100)) and not torch.equal(e.sample(16), a.sample(16))


@pytest.mark.slow
def test_cache_key_includes_length_and_sizes(tmp_path: Path, monkeypatch) -> None:
    name20 = cache_file_name(20, 0, 10_000, 5_000)
    assert name20 == "oracle-V5000-E32-H32-std1-T20-seed0-n10000-m5000.pt"
    names = {cache_file_name(20, 0, 10_000, 5_000), cache_file_name(40, 0, 10_000, 5_000),
             cache_file_name(20, 1, 10_000, 5_000), cache_file_name(20, 0, 5_000, 5_000),
             cache_file_name(20, 0, 10_000, 2_500), cache_file_name(20, 0, 10_000, 5_000, 100)}
    assert len(names) == 6
    s20 = build(tmp_path, max_len=20)
    s40 = build(tmp_path, max_len=40)  # same folder, seed and sizes: must not reuse T=20
    assert s20.cache_path != s40.cache_path and len(files(tmp_path)) == 2
    assert s20.sample_shape == (20,) and s40.sample_shape == (40,)
    assert torch.load(s40.cache_path, weights_only=True)["train"].shape == (N_TRAIN, 40)
    # both are read back from the cache, each with its own length, without rebuilding
    monkeypatch.setattr(oracle_mod, "build_oracle_data", _no_build)
    again20, again40 = build(tmp_path, max_len=20), build(tmp_path, max_len=40)
    assert again20.build_seconds == 0.0 and again40.build_seconds == 0.0
    assert torch.equal(again20.reals(100), s20.reals(100))
    assert torch.equal(again40.reals(100), s40.reals(100))
    assert again40.sample_shape == (40,)


def _no_build(*args: object, **kw: object) -> dict:
    raise AssertionError("the cache should have been used")


def test_cache_is_loaded_with_weights_only(tmp_path: Path, monkeypatch) -> None:
    build(tmp_path)
    calls: list[dict] = []
    real_load = torch.load

    def spy(*args: object, **kw: object):
        calls.append(kw)
        return real_load(*args, **kw)

    monkeypatch.setattr(torch, "load", spy)
    build(tmp_path)
    assert calls and all(kw.get("weights_only") is True for kw in calls)


class NotATensor:
    """A pickled object that ``weights_only=True`` refuses to load."""


@pytest.mark.slow
def test_unsafe_corrupt_or_mismatched_cache_is_rebuilt(tmp_path: Path) -> None:
    good = build(tmp_path)
    path = good.cache_path
    reference = good.reals(100)
    bad_contents = [
        lambda: torch.save({"train": NotATensor()}, path),  # pickle beyond tensors
        lambda: path.write_bytes(path.read_bytes()[:1000]),  # truncated
        lambda: torch.save({**torch.load(path, weights_only=True),
                            "train": torch.zeros(3, T, dtype=torch.long)}, path),
    ]
    for make_bad in bad_contents:
        make_bad()
        with pytest.warns(UserWarning, match="unusable"):
            src = build(tmp_path)
        assert torch.equal(src.reals(100), reference)
        torch.load(path, weights_only=True)  # rewritten, valid again
    assert files(tmp_path) == [path.name]


@pytest.mark.slow
def test_atomic_cache_write_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    def torn_save(obj: object, f: object, *args: object, **kw: object) -> None:
        Path(str(f)).write_bytes(b"PK\x03\x04 half a zip")  # partial content, then the disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.warns(UserWarning, match="could not cache"):
        src = build(tmp_path)
    assert files(tmp_path) == []  # neither the target nor the temporary file
    assert src.reals(5).shape == (5, T)  # the data still work, uncached

    def killed_save(obj: object, f: object, *args: object, **kw: object) -> None:
        Path(str(f)).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed_save)
    with pytest.raises(KeyboardInterrupt):
        build(tmp_path)
    assert files(tmp_path) == []


@pytest.mark.slow
def test_nll_oracle_estimates_the_entropy_rate(tmp_path: Path) -> None:
    src = build(tmp_path, n_train=400)
    own = src.reals(400)
    nll_own = src.nll_oracle(own)
    # exact conditional entropies along the same contexts: an estimate of the same entropy rate
    with torch.no_grad():
        logp = torch.log_softmax(src.oracle.teacher_forced_logits(own).double(), -1)
        ent = -(logp.exp() * logp).sum(-1).mean(1)  # (n,) per-token entropy along each sentence
        nll_rows = src.oracle.nll(own).double()
    diff = nll_rows - ent
    se = float(diff.std()) / math.sqrt(len(diff))
    assert nll_own == pytest.approx(float(nll_rows.mean()), rel=1e-6)
    assert abs(float(diff.mean())) < 5 * se + 1e-3
    log_v = math.log(ORACLE_VOCAB)
    assert nll_own < log_v - 0.5  # a peaked oracle: well below the uniform entropy
    uniform = torch.randint(0, ORACLE_VOCAB, (400, T), generator=torch.Generator().manual_seed(1))
    nll_uniform = src.nll_oracle(uniform)
    assert nll_uniform > log_v + 1.0  # cross-entropy log V + KL(U || p_o)
    assert src.nll_oracle(src.reals(100, "holdout")) == pytest.approx(nll_own, abs=0.5)
    with pytest.raises(DataError):
        src.nll_oracle(torch.empty(0, T, dtype=torch.long))


def test_factory_reads_config_fields(tmp_path: Path, monkeypatch) -> None:
    cfg = SimpleNamespace(name="oracle", path=str(tmp_path), max_len=5, oracle_seed=3,
                          oracle_train=32, oracle_test=16, batch_size=8)
    src = oracle(cfg, seed=0)
    assert src.sample_shape == (5,) and src.size == 32 and src.oracle_seed == 3
    assert src.cache_path.name == cache_file_name(5, 3, 32, 16)
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache" / "oracle"
    src = oracle(SimpleNamespace(max_len=4, oracle_train=16, oracle_test=8), seed=0)
    assert src.cache_path.parent == tmp_path / "cache" / "oracle" and src.oracle_seed == 0


def test_bad_config(tmp_path: Path) -> None:
    for kw in ({"max_len": 0}, {"n_train": 0}, {"oracle_seed": -1}, {"max_items": 0},
               {"n_test": 2.5}):
        with pytest.raises(ConfigError):
            build(tmp_path, **kw)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError):
        build(f)


@pytest.mark.slow
def test_real_size_oracle_at_length_20(tmp_path: Path) -> None:
    """The real oracle at length 20 with 500 + 250 sentences (1/20 of the benchmark, ~1 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = build(tmp_path, max_len=20, n_train=500, n_test=250)
    assert src.sample(64).shape == (64, 20)
    assert 5.0 < src.nll_oracle(src.reals(250, "holdout")) < math.log(ORACLE_VOCAB)


def test_oracle_vocab_sets_the_oracle_and_its_cache_key(tmp_path: Path, monkeypatch) -> None:
    cfg = SimpleNamespace(path=str(tmp_path), max_len=5, oracle_train=40, oracle_test=20,
                          oracle_vocab=7)
    src = oracle(cfg, seed=0)
    assert src.vocab_size == 7 and src.oracle.vocab_size == 7
    assert src.cache_path.name == cache_file_name(5, 0, 40, 20, 7)
    ids = src.reals(200)
    assert int(ids.min()) >= 0 and int(ids.max()) < 7 and len(ids.unique()) > 1
    # the default-V file is another file; the V=7 cache is read back without rebuilding
    assert build(tmp_path, max_len=5, n_train=40, n_test=20).vocab_size == ORACLE_VOCAB
    monkeypatch.setattr(oracle_mod, "build_oracle_data", _no_build)
    again = oracle(cfg, seed=0)
    assert again.build_seconds == 0.0 and torch.equal(again.reals(50), src.reals(50))
    # NLL_oracle of its own samples estimates the per-token entropy rate, at most log V
    assert 0.0 < src.nll_oracle(src.reals(40)) < math.log(7)
    with pytest.raises(ConfigError, match="oracle_vocab"):
        build(tmp_path, vocab_size=1)
