"""Low-level readers: MNIST idx files and CIFAR-10 python batches (through a restricted
unpickler) in each of their usual on-disk layouts, and a urllib downloader with md5 verification
(used when torchvision is absent)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
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


def fetch_url(url: str, dest: Path, timeout: float = 60.0,
              verify: Callable[[Path], str | None] | None = None) -> Path:
    """Download ``url`` to ``dest`` through a temporary file in the same folder, renamed into
    place only when complete and when ``verify(tmp)`` finds nothing wrong (it returns the
    problem, or None). DataError naming the URL and ``dest`` on any failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while block := resp.read(1 << 20):
                out.write(block)
        problem = verify(tmp) if verify is not None else None
        if problem:
            raise DataError(f"{url}: {problem}",
                            hint=f"download the file yourself and put it at {dest}")
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DataError(
            f"could not download {url}: {reason}".splitlines()[0],
            hint=f"check the internet connection, or download the file elsewhere and put it at "
            f"{dest}",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def download(urls: list[str], dest: Path, md5: str, timeout: float = 60.0) -> Path:
    """Fetch the first reachable of ``urls`` to ``dest`` (atomically) and verify its md5.

    Raises DataError when every URL fails or a download has the wrong checksum.
    """
    errors: list[str] = []

    def check(tmp: Path) -> str | None:
        got = md5sum(tmp)
        return None if got == md5 else f"md5 {got} != expected {md5}"

    for url in urls:
        try:
            return fetch_url(url, dest, timeout, check)
        except DataError as err:
            errors.append(err.message)
    raise DataError(
        f"could not download {dest.name}: {'; '.join(errors)}",
        hint=f"check the internet connection, or put the file at {dest} yourself",
    )


def describe_folder(folder: Path, limit: int = 8) -> str:
    """What ``folder`` holds (its first ``limit`` names), for a not-found message."""
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        return f"{folder} cannot be listed ({err.strerror or err})"
    if not entries:
        return f"{folder} is empty"
    names = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    more = f" and {len(entries) - limit} more" if len(entries) > limit else ""
    return f"{folder} holds {', '.join(names)}{more}"


def layout_error(dataset: str, expected: str, candidates: list[Path], hint: str,
                 download_to: Path) -> DataError:
    """DataError for data found in none of its accepted layouts: what was expected where, what
    the deepest existing candidate folder holds, and (in ``hint``) how to provide the files."""
    shown = next((c for c in candidates if c.is_dir()), candidates[-1])
    return DataError(f"{dataset} not found: expected {expected}; found: {describe_folder(shown)}",
                     hint=f"{hint}; or run with --set data.download=true (needs internet) to "
                          f"download them into {download_to}")


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


def _mnist_candidates(root: Path) -> list[Path]:
    """Where the idx files may be: ``root/MNIST/raw`` (torchvision's layout), ``root/raw``
    (root is the MNIST folder) and ``root`` itself (the raw folder or any folder of the files)."""
    return [root / "MNIST" / "raw", root / "raw", root]


def find_mnist(root: Path) -> Path | None:
    """The first candidate folder holding both training idx files (each plain or .gz)."""
    for folder in _mnist_candidates(root):
        if all(_locate(folder, stem) is not None for stem in MNIST_FILES):
            return folder
    return None


def mnist_not_found(root: Path) -> DataError:
    """DataError listing MNIST's accepted layouts under ``root`` and what is there."""
    images, labels = list(MNIST_FILES)
    return layout_error(
        "MNIST training files",
        f"{images} and {labels} (each plain or .gz) in {root}, {root / 'raw'} or "
        f"{root / 'MNIST' / 'raw'}",
        _mnist_candidates(root),
        "point data.path at the folder of the two idx files (MNIST/raw), at MNIST/ or at the "
        f"folder holding MNIST/; or put the files in {root}",
        root / "MNIST" / "raw",
    )


def read_mnist_raw(root: Path, download_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images (N, 28, 28) uint8 and labels (N,) from the idx files under ``root``
    in any layout of :func:`find_mnist`; downloaded to ``root/MNIST/raw`` when allowed."""
    raw = find_mnist(root)
    if raw is None:
        if not download_ok:
            raise mnist_not_found(root)
        raw = root / "MNIST" / "raw"
        for stem, md5 in MNIST_FILES.items():
            if _locate(raw, stem) is None:
                download([m + stem + ".gz" for m in MNIST_MIRRORS], raw / f"{stem}.gz", md5)
    found = {stem: _locate(raw, stem) or raw / stem for stem in MNIST_FILES}
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
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
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


def read_cifar_batch(path: Path, blob: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: images (N, 3, 32, 32) uint8 and labels (N,) int64, from the
    file ``path`` or from ``blob`` (its bytes read from an archive; ``path`` names it)."""
    try:
        obj = safe_unpickle(path.read_bytes() if blob is None else blob)
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


def _cifar_archive_batches(archive: Path) -> dict[str, bytes]:
    """The bytes of each training batch in the CIFAR-10 tar.gz (read in memory, not extracted)."""
    wanted = {f"{CIFAR_DIR}/{b}": b for b in CIFAR_BATCHES}
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                f = tar.extractfile(member) if name and member.isfile() else None
                if f is not None:
                    blobs[name] = f.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataError(f"cannot read the CIFAR-10 archive {archive}: {err}",
                        hint=f"data.path may name {CIFAR_ARCHIVE}, the folder {CIFAR_DIR}/ or "
                             "the folder holding it; a corrupt archive: delete it and download "
                             "again") from None
    missing = [b for b in CIFAR_BATCHES if b not in blobs]
    if missing:
        raise DataError(f"{archive} does not contain {CIFAR_DIR}/{missing[0]}",
                        hint="the archive is incomplete or not cifar-10-python.tar.gz; delete it "
                             "and download again")
    return blobs


def find_cifar(root: Path) -> Path | None:
    """Where CIFAR-10's training batches are: the folder ``root/cifar-10-batches-py`` or ``root``
    itself holding data_batch_1..5, or the archive (``root`` itself, or in ``root``)."""
    if root.is_file():
        return root
    for folder in (root / CIFAR_DIR, root):
        if all((folder / b).is_file() for b in CIFAR_BATCHES):
            return folder
    archive = root / CIFAR_ARCHIVE
    return archive if archive.is_file() else None


def cifar_not_found(root: Path) -> DataError:
    """DataError listing CIFAR-10's accepted layouts under ``root`` and what is there."""
    base = root / CIFAR_DIR
    return layout_error(
        "CIFAR-10 training batches",
        f"{CIFAR_BATCHES[0]} .. {CIFAR_BATCHES[-1]} in {root} or {base}, or the archive "
        f"{CIFAR_ARCHIVE} as data.path or in {root}",
        [base, root],
        f"point data.path at {CIFAR_DIR}/, at the folder holding it or at {CIFAR_ARCHIVE}; or put "
        f"the files in {root}",
        root,
    )


def read_cifar_raw(root: Path, download_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 training images (50000, 3, 32, 32) uint8 and labels from ``root`` in any layout
    of :func:`find_cifar`; downloaded and extracted into ``root`` when allowed."""
    where = find_cifar(root)
    if where is None:
        if not download_ok:
            raise cifar_not_found(root)
        archive = root / CIFAR_ARCHIVE
        download([CIFAR_URL], archive, CIFAR_MD5)
        _extract_cifar(archive, root)
        where = root / CIFAR_DIR
        still = [b for b in CIFAR_BATCHES if not (where / b).is_file()]
        if still:
            raise DataError(f"{archive} does not contain {CIFAR_DIR}/{still[0]}",
                            hint="delete the archive and download again")
    if where.is_file():
        blobs = _cifar_archive_batches(where)
        parts = [read_cifar_batch(where / CIFAR_DIR / b, blobs[b]) for b in CIFAR_BATCHES]
    else:
        parts = [read_cifar_batch(where / b) for b in CIFAR_BATCHES]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
