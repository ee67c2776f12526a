"""Tests of stablegan.data: toy mixtures, digits, MNIST/CIFAR-10 readers on generated files,
image folders, tensor files, determinism, resumable sampling and error messages."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from stablegan.config import DataConfig
from stablegan.data import DataSource, build_data, vision
from stablegan.data import files as data_files
from stablegan.errors import ConfigError, DataError

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def save_tensor(path: Path, obj: object) -> Path:
    """torch.save ``obj`` to ``path`` and return the path."""
    torch.save(obj, path)
    return path


def tensor_data(tmp_path: Path, n: int, seed: int = 0, **kw: object) -> DataSource:
    """A tensor source over the points 0..n-1 (one feature: the item id)."""
    path = save_tensor(tmp_path / f"ids{n}.pt", torch.arange(n, dtype=torch.float32).view(n, 1))
    cfg = DataConfig(name="tensor", path=str(path), **kw)  # type: ignore[arg-type]
    return build_data(cfg, seed)


def ids(x: torch.Tensor) -> list[int]:
    """Item ids of a batch from ``tensor_data``."""
    return [int(v) for v in x.view(-1).tolist()]


def no_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the built-in MNIST/CIFAR readers (as when torchvision is not installed)."""
    monkeypatch.setattr(vision, "has_torchvision", lambda: False)


# ---------------------------------------------------------------------------------------------
# toy mixtures
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,k,std,radius", [("ring", 8, 0.01, 1.0), ("grid", 25, 0.05, None)])
def test_toy_modes_and_std(name: str, k: int, std: float, radius: float | None) -> None:
    d = build_data(DataConfig(name=name), seed=0)
    assert d.task == "points" and d.sample_shape == (2,)
    assert d.modes is not None and d.modes.shape == (k, 2) and d.mode_std == std
    assert d.size is None and d.num_classes is None
    if radius is not None:
        assert torch.allclose(d.modes.norm(dim=1), torch.full((k,), radius), atol=1e-6)
    else:
        assert set(d.modes.view(-1).tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    x = d.sample(20000)
    assert x.dtype == torch.float32 and x.shape == (20000, 2)
    nearest = torch.cdist(x, d.modes).argmin(dim=1)
    counts = torch.bincount(nearest, minlength=k).float() / len(x)
    assert (counts - 1 / k).abs().max() < 0.3 / k
    resid = x - d.modes[nearest]
    assert abs(resid.std().item() - std) < 0.05 * std


def test_toy_len_is_undefined() -> None:
    d = build_data(DataConfig(name="ring"), seed=0)
    with pytest.raises(TypeError):
        len(d)


def test_toy_determinism_and_global_rng_untouched() -> None:
    a = build_data(DataConfig(name="grid"), seed=5)
    b = build_data(DataConfig(name="grid"), seed=5)
    c = build_data(DataConfig(name="grid"), seed=6)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    xa = a.sample(64)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(99)  # the global seed must not matter
    assert torch.equal(xa, b.sample(64))
    assert not torch.equal(xa, c.sample(64))


def test_toy_reals_deterministic_and_split_dependent() -> None:
    a = build_data(DataConfig(name="ring"), seed=0)
    b = build_data(DataConfig(name="ring"), seed=1)
    r = a.reals(500)
    a.sample(100)
    assert torch.equal(r, a.reals(500))
    assert torch.equal(r, b.reals(500))  # independent of the run seed and of training
    assert not torch.equal(r, a.reals(500, "holdout"))
    with pytest.raises(DataError):
        a.reals(10, "test")


def test_toy_state_round_trip(tmp_path: Path) -> None:
    a = build_data(DataConfig(name="ring"), seed=0)
    a.sample(10)
    torch.save(a.state_dict(), tmp_path / "s.pt")
    expected = [a.sample(16) for _ in range(3)]
    b = build_data(DataConfig(name="ring"), seed=123)
    b.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert all(torch.equal(e, b.sample(16)) for e in expected)
    g = build_data(DataConfig(name="grid"), seed=0)
    with pytest.raises(DataError):
        g.load_state_dict(a.state_dict())


# ---------------------------------------------------------------------------------------------
# finite sources: epochs, determinism, resume, holdout
# ---------------------------------------------------------------------------------------------


def test_epoch_sampling_without_replacement(tmp_path: Path) -> None:
    d = tensor_data(tmp_path, 10, batch_size=3, holdout_fraction=0.0)
    assert d.size == 10 and len(d) == 10
    epoch = [i for _ in range(3) for i in ids(d.sample(3))]
    assert len(set(epoch)) == 9  # 3 batches of 3: no repeats; one item skipped this epoch
    nxt = ids(d.sample(3))  # a new permutation starts here
    assert len(set(nxt)) == 3


def test_finite_determinism(tmp_path: Path) -> None:
    path = save_tensor(tmp_path / "x.pt", torch.randn(50, 3))
    cfg = DataConfig(name="tensor", path=str(path), batch_size=8)
    a, b, c = build_data(cfg, 1), build_data(cfg, 1), build_data(cfg, 2)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    xa = [a.sample(8) for _ in range(10)]
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(x, b.sample(8)) for x in xa)
    assert not all(torch.equal(x, c.sample(8)) for x in xa)


def test_state_round_trip_across_epoch_boundary(tmp_path: Path) -> None:
    a = tensor_data(tmp_path, 20, batch_size=4, holdout_fraction=0.0)
    for _ in range(3):
        a.sample(4)
    state = a.state_dict()
    assert all(isinstance(v, (torch.Tensor, int, float, str, list)) for v in state.values())
    torch.save(state, tmp_path / "state.pt")
    expected = [ids(a.sample(4)) for _ in range(8)]  # crosses two epoch boundaries
    b = tensor_data(tmp_path, 20, batch_size=4, holdout_fraction=0.0, seed=77)
    b.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert [ids(b.sample(4)) for _ in range(8)] == expected
    # a fresh source resumed from a state taken before any sampling also matches
    c = tensor_data(tmp_path, 20, batch_size=4, holdout_fraction=0.0, seed=3)
    fresh = c.state_dict()
    first = [ids(c.sample(4)) for _ in range(6)]
    c.load_state_dict(fresh)
    assert [ids(c.sample(4)) for _ in range(6)] == first


def test_state_mismatch_rejected(tmp_path: Path) -> None:
    a = tensor_data(tmp_path, 20, batch_size=4)
    b = tensor_data(tmp_path, 30, batch_size=4)
    with pytest.raises(DataError):
        b.load_state_dict(a.state_dict())
    ring = build_data(DataConfig(name="ring"), 0)
    with pytest.raises(DataError):
        a.load_state_dict(ring.state_dict())


def test_holdout_disjoint_and_seed_independent(tmp_path: Path) -> None:
    a = tensor_data(tmp_path, 100, batch_size=10, holdout_fraction=0.2, seed=0)
    b = tensor_data(tmp_path, 100, batch_size=10, holdout_fraction=0.2, seed=1)
    assert a.size == 80
    hold = set(ids(a.reals(1000, "holdout")))
    assert len(hold) == 20
    assert hold == set(ids(b.reals(1000, "holdout")))
    seen = {i for _ in range(40) for i in ids(a.sample(10))}
    assert seen == set(range(100)) - hold
    train = a.reals(1000)
    assert set(ids(train)) == seen and len(train) == 80  # fewer than asked for
    assert torch.equal(a.reals(30), a.reals(30))
    assert torch.equal(a.reals(30), b.reals(30))


def test_max_items_truncates(tmp_path: Path) -> None:
    d = tensor_data(tmp_path, 100, batch_size=4, max_items=20, holdout_fraction=0.1)
    assert d.size == 18
    assert max(ids(d.reals(100))) < 20 and max(ids(d.reals(100, "holdout"))) < 20


def test_dataset_smaller_than_batch(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        tensor_data(tmp_path, 5, batch_size=8, holdout_fraction=0.0)
    assert "5" in str(info.value.message) and "8" in info.value.message
    assert "lower data.batch_size" in (info.value.hint or "")
    d = tensor_data(tmp_path, 5, batch_size=4, holdout_fraction=0.0)
    with pytest.raises(DataError):
        d.sample(6)


def test_unknown_name_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        build_data(DataConfig(name="cifar"), 0)
    assert "cifar10" in (info.value.hint or "")
    with pytest.raises(ConfigError) as info:
        build_data(DataConfig(name="rnig"), 0)
    assert "ring" in (info.value.hint or "")


@pytest.mark.parametrize("name", ["ring", "grid", "digits"])
def test_path_for_data_that_reads_no_files_is_refused(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_data(DataConfig(name=name, path="/x", batch_size=16), 0)
    assert info.value.message == f"data '{name}' reads no files, so data.path=/x has no effect"
    hint = info.value.hint or ""
    assert all(n in hint for n in ("mnist", "cifar10", "image-folder", "tensor"))
    assert "data.path=null" in hint
    assert build_data(DataConfig(name=name, batch_size=16), 0).name == name  # without: fine


# ---------------------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------------------


def test_digits() -> None:
    d = build_data(DataConfig(name="digits", batch_size=64), 0)
    assert d.task == "images" and d.sample_shape == (1, 8, 8) and d.num_classes == 10
    assert d.size == 1797 - 179
    x = d.sample(64)
    assert x.shape == (64, 1, 8, 8) and x.dtype == torch.float32
    r = d.reals(2000)
    assert r.min() == -1.0 and r.max() == 1.0 and len(r) == d.size
    labelled = d.labelled(50, "holdout")
    assert labelled is not None
    xs, ys = labelled
    assert ys.dtype == torch.int64 and set(ys.tolist()) <= set(range(10))
    assert torch.equal(xs, d.reals(50, "holdout"))


# ---------------------------------------------------------------------------------------------
# MNIST idx files
# ---------------------------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array in the idx format."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def mnist_arrays(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Images whose pixels all equal 20 * label, and labels 0..9 repeating."""
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = np.repeat(labels[:, None, None] * 20, 28 * 28).reshape(n, 28, 28).astype(np.uint8)
    return images, labels


def write_mnist(root: Path, gz: bool, n: int = 12) -> dict[str, bytes]:
    """Write generated MNIST training idx files under ``root/MNIST/raw``; return gz bytes."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images, labels = mnist_arrays(n)
    out = {}
    for stem, arr in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        out[stem] = gzip.compress(data)
        if gz:
            (raw / f"{stem}.gz").write_bytes(out[stem])
        else:
            (raw / stem).write_bytes(data)
    return out


def check_mnist(d: DataSource, n: int) -> None:
    """Shapes, scaling and image/label pairing of a generated MNIST source."""
    assert d.sample_shape == (1, 28, 28) and d.task == "images" and d.num_classes == 10
    labelled = d.labelled(100)
    assert labelled is not None
    x, y = labelled
    assert len(x) == n
    expected = (y.float() * 20) / 127.5 - 1
    assert torch.allclose(x.mean(dim=(1, 2, 3)), expected, atol=1e-6)
    assert x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_raw_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool) -> None:
    no_torchvision(monkeypatch)
    write_mnist(tmp_path, gz)
    d = build_data(DataConfig(name="mnist", path=str(tmp_path), batch_size=4,
                              holdout_fraction=0.0), 0)
    check_mnist(d, 12)
    assert d.sample(4).shape == (4, 1, 28, 28)


def test_mnist_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_torchvision(monkeypatch)
    with pytest.raises(DataError) as info:
        build_data(DataConfig(name="mnist", path=str(tmp_path)), 0)
    assert "train-images-idx3-ubyte" in info.value.message
    assert str(tmp_path / "MNIST" / "raw") in info.value.message
    assert "data.download=true" in (info.value.hint or "") and "put the file" in info.value.hint


@pytest.mark.parametrize("damage", ["magic", "truncated", "badgz"])
def test_mnist_corrupt_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    no_torchvision(monkeypatch)
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    data = path.read_bytes()
    if damage == "magic":
        path.write_bytes(b"\x01\x02" + data[2:])
    elif damage == "truncated":
        path.write_bytes(data[:-100])
    else:
        path.unlink()
        (path.parent / (path.name + ".gz")).write_bytes(b"not gzip at all")
    with pytest.raises(DataError) as info:
        build_data(DataConfig(name="mnist", path=str(tmp_path), batch_size=4), 0)
    assert "train-images-idx3-ubyte" in info.value.message


def test_mnist_download_verifies_md5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_torchvision(monkeypatch)
    mirror = tmp_path / "mirror"
    gz = write_mnist(mirror, gz=True)
    src = mirror / "MNIST" / "raw"
    md5 = {stem: hashlib.md5(blob).hexdigest() for stem, blob in gz.items()}
    monkeypatch.setattr(data_files, "MNIST_MIRRORS", ["file:///nonexistent/", src.as_uri() + "/"])
    monkeypatch.setattr(data_files, "MNIST_FILES", {k: "0" * 32 for k in md5})
    root = tmp_path / "root"
    cfg = DataConfig(name="mnist", path=str(root), batch_size=4, download=True,
                     holdout_fraction=0.0)
    with pytest.raises(DataError) as info:
        build_data(cfg, 0)
    assert "md5" in info.value.message
    assert not list((root / "MNIST" / "raw").glob("*"))  # nothing half-written is left
    monkeypatch.setattr(data_files, "MNIST_FILES", md5)
    check_mnist(build_data(cfg, 0), 12)
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()


def test_mnist_torchvision(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    write_mnist(tmp_path, gz=False)
    d = build_data(DataConfig(name="mnist", path=str(tmp_path), batch_size=4,
                              holdout_fraction=0.0), 0)
    check_mnist(d, 12)


def mnist_cfg(path: Path, **kw: object) -> DataConfig:
    """An MNIST config over ``path`` with a tiny batch and no holdout."""
    return DataConfig(name="mnist", path=str(path), batch_size=4, holdout_fraction=0.0,
                      **kw)  # type: ignore[arg-type]


def fake_torchvision(
    monkeypatch: pytest.MonkeyPatch, fetch: Callable[[Path], object] | None = None
) -> list[str]:
    """Pretend torchvision is installed. Its dataset classes fail as torchvision does when its
    own layout (``root/MNIST/raw``, all files unpacked) is not there, unless asked to download and
    ``fetch`` is given: then ``fetch(root)`` plays the download. Returns the roots it was given."""
    calls: list[str] = []

    def dataset(root: str, train: bool, download: bool) -> None:
        calls.append(root)
        if not download or fetch is None:
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        fetch(Path(root))

    stub = type(sys)("torchvision")
    stub.datasets = type(sys)("torchvision.datasets")  # type: ignore[attr-defined]
    stub.datasets.MNIST = stub.datasets.CIFAR10 = dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", stub)
    monkeypatch.setattr(vision, "has_torchvision", lambda: True)
    return calls


MNIST_LAYOUTS = {  # data.path relative to the folder write_mnist wrote MNIST/raw under
    "MNIST": "MNIST",
    "MNIST/raw": "MNIST/raw",
    "folder-of-files": "my-mnist",  # the idx files directly in a folder of any name
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("layout", list(MNIST_LAYOUTS))
def test_mnist_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str,
                       gz: bool) -> None:
    calls = fake_torchvision(monkeypatch)  # reading never goes through torchvision's layout
    write_mnist(tmp_path, gz)
    if layout == "folder-of-files":
        (tmp_path / "MNIST" / "raw").rename(tmp_path / "my-mnist")
    check_mnist(build_data(mnist_cfg(tmp_path / MNIST_LAYOUTS[layout]), 0), 12)
    check_mnist(build_data(mnist_cfg(tmp_path / MNIST_LAYOUTS[layout], download=True), 0), 12)
    assert calls == []  # found: nothing to download


def test_mnist_not_found_lists_the_layouts_and_what_is_there(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, _ = mnist_arrays()
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    with pytest.raises(DataError) as info:
        build_data(mnist_cfg(tmp_path), 0)
    msg = info.value.message
    assert msg == ("MNIST training files not found: expected train-images-idx3-ubyte and "
                   "train-labels-idx1-ubyte (each plain or .gz) in "
                   f"{tmp_path}, {tmp_path / 'raw'} or {raw}; "
                   f"found: {raw} holds train-images-idx3-ubyte.gz")
    hint = info.value.hint or ""
    assert "MNIST/raw" in hint and f"put the files in {tmp_path};" in hint
    assert hint.endswith(f"--set data.download=true (needs internet) to download them into {raw}")
    for path, found in ((tmp_path / "empty", "is empty"), (tmp_path / "nope", "does not exist")):
        if found == "is empty":
            path.mkdir()
        with pytest.raises(DataError) as info:
            build_data(mnist_cfg(path), 0)
        assert info.value.message.endswith(f"found: {path} {found}")


def test_mnist_download_through_torchvision_then_read(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_torchvision(monkeypatch, fetch=lambda root: write_mnist(root, gz=False))
    check_mnist(build_data(mnist_cfg(tmp_path, download=True), 0), 12)
    assert calls == [str(tmp_path)]
    fake_torchvision(monkeypatch)  # a download that fails
    with pytest.raises(DataError) as info:
        build_data(mnist_cfg(tmp_path / "other", download=True), 0)
    assert info.value.message.startswith(
        f"torchvision could not download MNIST into {tmp_path / 'other'}: Dataset not found")


# ---------------------------------------------------------------------------------------------
# CIFAR-10 python batches
# ---------------------------------------------------------------------------------------------


def cifar_batch(i: int, n: int = 3) -> dict[bytes, object]:
    """A CIFAR-10-style batch dict whose images are constant 10 * label."""
    labels = [(i * n + j) % 10 for j in range(n)]
    data = np.repeat(np.array(labels, dtype=np.uint8)[:, None] * 10, 3072, axis=1)
    return {b"batch_label": f"batch {i}".encode(), b"labels": labels, b"data": data,
            b"filenames": [b"x.png"] * n}


def write_cifar(root: Path, protocol: int | str = 2) -> None:
    """Five small generated CIFAR-10 batches under ``root/cifar-10-batches-py``; protocol "old"
    names the numpy 1.x module ``numpy.core.multiarray`` as the original files do."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        blob = pickle.dumps(cifar_batch(i), protocol=2 if protocol == "old" else int(protocol))
        if protocol == "old":
            assert b"numpy._core.multiarray\n" in blob
            blob = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        (base / f"data_batch_{i}").write_bytes(blob)


def check_cifar(d: DataSource) -> None:
    """Shapes, scaling and pairing of a generated CIFAR-10 source."""
    assert d.sample_shape == (3, 32, 32) and d.num_classes == 10
    labelled = d.labelled(100)
    assert labelled is not None
    x, y = labelled
    assert len(x) == 15
    assert torch.allclose(x.mean(dim=(1, 2, 3)), (y.float() * 10) / 127.5 - 1, atol=1e-6)


@pytest.mark.parametrize("protocol", [2, 5, "old"])
def test_cifar_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: int | str
) -> None:
    no_torchvision(monkeypatch)
    write_cifar(tmp_path, protocol)
    d = build_data(DataConfig(name="cifar10", path=str(tmp_path), batch_size=4,
                              holdout_fraction=0.0), 0)
    check_cifar(d)


class _Evil:
    """Pickles to a call of ``os.system`` (must never run)."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.cmd,)


class _EvalEvil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return eval, ("__import__('os').getcwd()",)


@pytest.mark.parametrize("payload", ["system", "eval", "nested"])
def test_cifar_malicious_pickle_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    no_torchvision(monkeypatch)
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    evil: object = _Evil(f"touch {marker}") if payload != "eval" else _EvalEvil()
    if payload == "nested":
        batch = cifar_batch(1)
        batch[b"labels"] = [evil]
        evil = batch
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps(evil))
    with pytest.raises(DataError) as info:
        build_data(DataConfig(name="cifar10", path=str(tmp_path), batch_size=4), 0)
    assert "data_batch_3" in info.value.message and "not allowed" in info.value.message
    assert not marker.exists()


def test_cifar_wrong_structure_and_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_torchvision(monkeypatch)
    with pytest.raises(DataError) as info:
        build_data(DataConfig(name="cifar10", path=str(tmp_path)), 0)
    assert "data_batch_1" in info.value.message
    assert str(tmp_path / "cifar-10-batches-py") in info.value.message
    assert "data.download=true" in (info.value.hint or "")
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DataError) as info:
        build_data(DataConfig(name="cifar10", path=str(tmp_path), batch_size=4), 0)
    assert "data_batch_2" in info.value.message


def test_cifar_download_and_safe_extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_torchvision(monkeypatch)
    src = tmp_path / "src"
    write_cifar(src)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    monkeypatch.setattr(data_files, "CIFAR_URL", archive.as_uri())
    monkeypatch.setattr(data_files, "CIFAR_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    root = tmp_path / "root"
    d = build_data(DataConfig(name="cifar10", path=str(root), batch_size=4, download=True,
                              holdout_fraction=0.0), 0)
    check_cifar(d)
    assert not (tmp_path / "escaped.txt").exists()


def test_cifar_torchvision(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    write_cifar(tmp_path)
    d = build_data(DataConfig(name="cifar10", path=str(tmp_path), batch_size=4,
                              holdout_fraction=0.0), 0)
    check_cifar(d)


def cifar_cfg(path: Path, **kw: object) -> DataConfig:
    """A CIFAR-10 config over ``path`` with a tiny batch and no holdout."""
    return DataConfig(name="cifar10", path=str(path), batch_size=4, holdout_fraction=0.0,
                      **kw)  # type: ignore[arg-type]


def cifar_archive(src: Path, archive: Path, skip: str | None = None) -> Path:
    """A tar.gz like cifar-10-python.tar.gz of the batches write_cifar wrote under ``src``."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for f in sorted((src / "cifar-10-batches-py").iterdir()):
            if f.name != skip:
                tar.add(f, arcname=f"cifar-10-batches-py/{f.name}")
    return archive


@pytest.mark.parametrize("layout", ["folder-itself", "archive", "archive-in-root"])
def test_cifar_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    calls = fake_torchvision(monkeypatch)  # reading never goes through torchvision's layout
    write_cifar(tmp_path / "src")
    archive = tmp_path / "dl" / "cifar-10-python.tar.gz"
    path = {"folder-itself": tmp_path / "src" / "cifar-10-batches-py", "archive": archive,
            "archive-in-root": archive.parent}[layout]
    if layout != "folder-itself":
        cifar_archive(tmp_path / "src", archive)
    check_cifar(build_data(cifar_cfg(path), 0))
    check_cifar(build_data(cifar_cfg(path, download=True), 0))
    assert calls == []
    if layout != "folder-itself":  # read in memory: nothing extracted next to the archive
        assert [p.name for p in archive.parent.iterdir()] == [archive.name]


def test_cifar_not_found_lists_the_layouts_and_what_is_there(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(DataError) as info:
        build_data(cifar_cfg(tmp_path), 0)
    msg = info.value.message
    base = tmp_path / "cifar-10-batches-py"
    assert msg.startswith("CIFAR-10 training batches not found: expected data_batch_1 .. "
                          f"data_batch_5 in {tmp_path} or {base}, or the archive "
                          f"cifar-10-python.tar.gz as data.path or in {tmp_path}; "), msg
    assert msg.endswith(f"found: {base} holds data_batch_1, data_batch_2, data_batch_3, "
                        "data_batch_4")
    assert "cifar-10-python.tar.gz" in (info.value.hint or "")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        build_data(cifar_cfg(tmp_path / "empty"), 0)
    assert info.value.message.endswith(f"found: {tmp_path / 'empty'} is empty")


def test_cifar_bad_archive(tmp_path: Path) -> None:
    write_cifar(tmp_path / "src")
    short = cifar_archive(tmp_path / "src", tmp_path / "short.tar.gz", skip="data_batch_4")
    with pytest.raises(DataError, match="does not contain cifar-10-batches-py/data_batch_4"):
        build_data(cifar_cfg(short), 0)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="cannot read the CIFAR-10 archive") as info:
        build_data(cifar_cfg(junk), 0)
    assert "cifar-10-batches-py/" in (info.value.hint or "")


# ---------------------------------------------------------------------------------------------
# image folders
# ---------------------------------------------------------------------------------------------


def make_images(root: Path, size: int = 8) -> dict[str, Path]:
    """One image of each awkward kind (all ``size`` x ``size``) under ``root``."""
    (root / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    paths = {}
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), np.uint8))
    paths["rgb"] = root / "rgb.png"
    rgb.save(paths["rgb"])
    paths["jpeg"] = root / "sub" / "photo.JPG"
    rgb.save(paths["jpeg"], quality=95)
    paths["cmyk"] = root / "sub" / "cmyk.jpeg"
    Image.new("CMYK", (size, size), (255, 0, 255, 0)).save(paths["cmyk"])
    paths["gray16"] = root / "sub" / "deeper" / "gray16.png"
    Image.fromarray(np.full((size, size), 100 * 257, np.uint16)).save(paths["gray16"])
    paths["rgba"] = root / "rgba.PNG"
    Image.new("RGBA", (size, size), (255, 0, 0, 0)).save(paths["rgba"])
    paths["palette"] = root / "palette.gif"
    rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(paths["palette"])
    paths["la"] = root / "la.png"
    Image.new("LA", (size, size), (128, 10)).save(paths["la"])
    paths["bmp"] = root / "image.bmp"
    rgb.save(paths["bmp"])
    paths["webp"] = root / "image.webp"
    rgb.save(paths["webp"], lossless=True)
    (root / "notes.txt").write_text("not an image")
    return paths


def folder_cfg(path: Path, **kw: object) -> DataConfig:
    """An image-folder config with a tiny batch and no holdout."""
    base: dict[str, object] = {"batch_size": 2, "holdout_fraction": 0.0}
    base.update(kw)
    return DataConfig(name="image-folder", path=str(path), **base)  # type: ignore[arg-type]


def test_image_folder_loads_every_mode(tmp_path: Path) -> None:
    paths = make_images(tmp_path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    d = build_data(folder_cfg(tmp_path), 0)
    assert d.task == "images" and d.sample_shape == (3, 8, 8) and d.size == len(paths)
    assert d.labelled(4) is None and d.num_classes is None
    x = d.reals(100)
    assert x.min() >= -1 and x.max() <= 1 and x.dtype == torch.float32
    # find the RGBA (transparent red) and the 16-bit grey images by content
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1)
    assert ((x - red).abs().amax(dim=(1, 2, 3)) < 1e-6).sum() == 1  # alpha dropped, not blended
    green = torch.tensor([-1.0, 1.0, -1.0]).view(1, 3, 1, 1)  # CMYK (255, 0, 255, 0)
    assert ((x - green).abs().amax(dim=(1, 2, 3)) < 0.05).sum() == 1  # JPEG: approximately
    grey = 100 / 127.5 - 1  # 100 * 257 in 16 bits -> 100 in 8 bits
    assert ((x - grey).abs().amax(dim=(1, 2, 3)) < 1e-6).sum() == 1
    gray = build_data(folder_cfg(tmp_path, channels=1), 0)
    assert gray.sample_shape == (1, 8, 8) and gray.sample(2).shape == (2, 1, 8, 8)


def test_image_folder_reports_bad_files(tmp_path: Path) -> None:
    make_images(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)).save(
        buf, format="PNG"
    )
    (tmp_path / "sub" / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (tmp_path / "random.png").write_bytes(np.random.default_rng(2).bytes(500))
    with pytest.raises(DataError) as info:
        build_data(folder_cfg(tmp_path), 0)
    msg = info.value.message
    for name in ("empty.png", "truncated.png", "random.png"):
        assert name in msg
    assert "rgb.png" not in msg
    assert "remove" in (info.value.hint or "")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_image_folder_mixed_sizes(tmp_path: Path) -> None:
    make_images(tmp_path, size=8)
    Image.new("RGB", (20, 12), (0, 0, 255)).save(tmp_path / "wide.png")
    with pytest.raises(DataError) as info:
        build_data(folder_cfg(tmp_path), 0)
    assert "wide.png" in info.value.message and "20x12" in info.value.message
    assert "8x8" in info.value.message
    assert "--set data.image_size=32" in (info.value.hint or "")
    d = build_data(folder_cfg(tmp_path, image_size=16), 0)
    assert d.sample_shape == (3, 16, 16) and d.size == 10


def test_image_folder_max_items(tmp_path: Path) -> None:
    make_images(tmp_path)
    assert build_data(folder_cfg(tmp_path, max_items=4), 0).size == 4


def test_image_folder_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_data(folder_cfg(tmp_path / "missing"), 0)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no images"):
        build_data(folder_cfg(tmp_path / "empty"), 0)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DataError, match="not a directory"):
        build_data(folder_cfg(tmp_path / "file.png"), 0)
    with pytest.raises(DataError):
        build_data(DataConfig(name="image-folder"), 0)


# ---------------------------------------------------------------------------------------------
# tensor files
# ---------------------------------------------------------------------------------------------


def test_tensor_pt_points_and_images(tmp_path: Path) -> None:
    pts = save_tensor(tmp_path / "pts.pt", torch.randn(40, 3) * 5)
    d = build_data(DataConfig(name="tensor", path=str(pts), batch_size=8), 0)
    assert d.task == "points" and d.sample_shape == (3,) and d.size == 36
    assert d.reals(100).abs().max() > 1  # values used as given
    imgs = torch.rand(30, 1, 8, 8) * 2 - 1
    labels = torch.arange(30) % 3
    path = save_tensor(tmp_path / "img.pt", {"x": imgs, "y": labels})
    d = build_data(DataConfig(name="tensor", path=str(path), batch_size=8,
                              holdout_fraction=0.0), 0)
    assert d.task == "images" and d.sample_shape == (1, 8, 8) and d.num_classes == 3
    labelled = d.labelled(100)
    assert labelled is not None
    x, y = labelled
    order = [int((imgs - xi).abs().amax(dim=(1, 2, 3)).argmin()) for xi in x]
    assert torch.equal(y, labels[order]) and sorted(order) == list(range(30))


def test_tensor_npy(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).normal(size=(25, 2)).astype(np.float64)
    np.save(tmp_path / "x.npy", arr)
    d = build_data(DataConfig(name="tensor", path=str(tmp_path / "x.npy"), batch_size=4), 0)
    assert d.task == "points" and d.sample(4).dtype == torch.float32
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError):
        build_data(DataConfig(name="tensor", path=str(tmp_path / "obj.npy")), 0)


def test_tensor_bad_files(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"x": torch.zeros(10, 2), "y": _Evil(f"touch {marker}")}, evil)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(np.random.default_rng(0).bytes(300))
    three_d = save_tensor(tmp_path / "x3.pt", torch.zeros(10, 4, 4))
    nan = save_tensor(tmp_path / "nan.pt", torch.full((10, 2), float("nan")))
    bad_y = save_tensor(tmp_path / "bady.pt", {"x": torch.zeros(10, 2), "y": torch.zeros(3)})
    other = save_tensor(tmp_path / "list.pt", [1, 2, 3])
    txt = tmp_path / "x.txt"
    txt.write_text("1 2 3")
    for path in (evil, corrupt, three_d, nan, bad_y, other, txt, tmp_path / "missing.pt"):
        with pytest.raises(DataError):
            build_data(DataConfig(name="tensor", path=str(path), batch_size=2), 0)
    assert not marker.exists()
