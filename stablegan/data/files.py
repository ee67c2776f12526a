"""Low-level readers used when torchvision is absent: MNIST idx files, CIFAR-10 python batches
through a restricted unpickler, and a urllib downloader with md5 verification."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stablegan.errors import DataError

# ---------------------------------------------------------------------------------------------
# Download with md5 check
# ---------------------------------------------------------------------------------------------


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """Hex md5 digest of the file at ``path``."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def download(urls: list[str], dest: Path, md5: str, timeout: float = 60.0) -> Path:
    """Fetch the first reachable of ``urls`` to ``dest`` (atomically) and verify its md5.

    Raises DataError when every URL fails or a download has the wrong checksum.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                while block := resp.read(1 << 20):
                    out.write(block)
            got = md5sum(tmp)
            if got != md5:
                errors.append(f"{url}: md5 {got} != expected {md5}")
                continue
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"{url}: {err}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(
        f"could not download {dest.name}: {'; '.join(errors)}",
        hint=f"check the internet connection, or put the file at {dest} yourself",
    )


def missing_file_error(dataset: str, expected: Path) -> DataError:
    """DataError naming the file that is expected where, and the two ways to provide it."""
    return DataError(
        f"{dataset} file not found: expected {expected}",
        hint="run with --set data.download=true (needs internet), or put the file there "
        "(data.path sets the root folder)",
    )


# ---------------------------------------------------------------------------------------------
# MNIST idx files
# ---------------------------------------------------------------------------------------------

MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
MNIST_FILES = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",  # md5 of the .gz
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
}


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file of unsigned bytes (optionally gzip-compressed) into a uint8 array."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read idx file {path}: {err}",
                        hint="the file is corrupt; delete it and download again") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise DataError(f"{path} is not an idx file of unsigned bytes (bad magic number)",
                        hint="the file is corrupt; delete it and download again")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(data) < header:
        raise DataError(f"{path} has a truncated idx header",
                        hint="the file is corrupt; delete it and download again")
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise DataError(
            f"{path} holds {len(data) - header} data bytes, its header promises {expected}",
            hint="the file is truncated or corrupt; delete it and download again",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _locate(raw: Path, stem: str) -> Path | None:
    """``raw/stem`` or ``raw/stem.gz``, whichever exists."""
    for p in (raw / stem, raw / f"{stem}.gz"):
        if p.is_file():
            return p
    return None


def read_mnist_raw(root: Path, download_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images (N, 28, 28) uint8 and labels (N,) from ``root/MNIST/raw``."""
    raw = root / "MNIST" / "raw"
    found: dict[str, Path] = {}
    for stem, md5 in MNIST_FILES.items():
        path = _locate(raw, stem)
        if path is None:
            if not download_ok:
                raise missing_file_error("MNIST", raw / stem)
            path = download([m + stem + ".gz" for m in MNIST_MIRRORS], raw / f"{stem}.gz", md5)
        found[stem] = path
    images = read_idx(found["train-images-idx3-ubyte"])
    labels = read_idx(found["train-labels-idx1-ubyte"])
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataError(
            f"MNIST files disagree: images {images.shape}, labels {labels.shape}",
            hint=f"delete the files in {raw} and download again",
        )
    return images, labels


# ---------------------------------------------------------------------------------------------
# CIFAR-10 python batches
# ---------------------------------------------------------------------------------------------

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _latin1_encode(obj: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` limited to latin-1 (how Python 3 protocol-2 pickles store bytes)."""
    if not isinstance(obj, str) or encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"codec '{encoding}' is not allowed in a data pickle")
    return obj.encode("latin1")


def _numpy_attr(module: str, name: str) -> Callable[[], Any]:
    """A resolver for ``name`` in numpy's ``module``, preferring numpy 2's ``numpy._core``."""

    def resolve() -> Any:
        for mod in (module.replace("numpy.core", "numpy._core"), module):
            try:
                return getattr(importlib.import_module(mod), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"{module}.{name} is not available in this numpy")

    return resolve


_SAFE_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _SAFE_GLOBALS[(_mod, "_reconstruct")] = _numpy_attr("numpy.core.multiarray", "_reconstruct")
    _SAFE_GLOBALS[(_mod, "scalar")] = _numpy_attr("numpy.core.multiarray", "scalar")
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _SAFE_GLOBALS[(_mod, "_frombuffer")] = _numpy_attr("numpy.core.numeric", "_frombuffer")


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy globals needed to rebuild arrays; any other global
    (``os.system``, ``builtins.eval``, ...) raises ``pickle.UnpicklingError`` before it runs."""

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed numpy global, refuse everything else."""
        resolver = _SAFE_GLOBALS.get((module, name))
        if resolver is None:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a data file")
        return resolver()

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids (unused by data files)."""
        raise pickle.UnpicklingError("persistent ids are not allowed in a data file")


def safe_unpickle(data: bytes) -> Any:
    """Unpickle ``data`` (Python 2 strings read as bytes) allowing only numpy array globals."""
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()


def _get(d: dict[Any, Any], key: str) -> Any:
    """``d[key]`` for str or bytes keys (Python 2 and 3 pickles), None when absent."""
    return d.get(key.encode(), d.get(key))


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    try:
        obj = safe_unpickle(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, struct.error, OverflowError, OSError) as err:
        raise DataError(
            f"cannot read CIFAR-10 batch {path}: {err}".splitlines()[0],
            hint="the file is corrupt or not a CIFAR-10 batch; delete it and download again",
        ) from None
    data = _get(obj, "data") if isinstance(obj, dict) else None
    labels = _get(obj, "labels") if isinstance(obj, dict) else None
    ok = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    ok = ok and data.shape[1] == 3 * 32 * 32 and labels is not None
    if ok:
        labels_arr = np.asarray(labels)
        ok = labels_arr.shape == (data.shape[0],) and labels_arr.dtype.kind in "iu"
    if not ok:
        raise DataError(
            f"{path} is not a CIFAR-10 batch (expected a dict with uint8 'data' (N, 3072) and "
            "N integer 'labels')",
            hint="delete the file and download again",
        )
    return data.reshape(-1, 3, 32, 32), labels_arr.astype(np.int64)


def _extract_cifar(archive: Path, root: Path) -> None:
    """Extract only the regular files under ``cifar-10-batches-py/`` from the tar.gz archive."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [
                m for m in tar.getmembers()
                if m.isfile() and m.name.startswith(CIFAR_DIR + "/") and ".." not in m.name
            ]
            tar.extractall(root, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"cannot extract {archive}: {err}",
                        hint="delete the archive and download again") from None


def read_cifar_raw(root: Path, download_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 training images (50000, 3, 32, 32) uint8 and labels from ``root``."""
    base = root / CIFAR_DIR
    missing = [base / b for b in CIFAR_BATCHES if not (base / b).is_file()]
    if missing:
        if not download_ok:
            raise missing_file_error("CIFAR-10", missing[0])
        archive = root / Path(CIFAR_URL).name
        if not archive.is_file() or md5sum(archive) != CIFAR_MD5:
            download([CIFAR_URL], archive, CIFAR_MD5)
        _extract_cifar(archive, root)
        still = [base / b for b in CIFAR_BATCHES if not (base / b).is_file()]
        if still:
            raise DataError(f"{archive} does not contain {still[0].relative_to(root)}",
                            hint="delete the archive and download again")
    parts = [read_cifar_batch(base / b) for b in CIFAR_BATCHES]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
