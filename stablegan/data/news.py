"""Files of the EMNLP2017 WMT News benchmark, as prepared by LeakGAN and used by RelGAN, Texygen
and TextGAN-PyTorch: ``emnlp_news.txt`` (training sentences, one per line) and the test set used
as BLEU references, ``testdata/test_emnlp.txt`` (RelGAN/Texygen name) or
``testdata/emnlp_news_test.txt`` (TextGAN-PyTorch name).

:func:`locate` finds them under a folder and, when allowed, downloads the missing ones from the
RelGAN repository with :func:`fetch` (written atomically: a partial download never looks like the
file).
"""

from __future__ import annotations

from pathlib import Path

from stablegan.data.files import fetch_url
from stablegan.errors import DataError

__all__ = ["DEFAULT_ROOT", "TEST_NAMES", "TRAIN_NAMES", "URLS", "fetch", "locate"]

DEFAULT_ROOT = "data/emnlp_news"  # folder used when data.path is not set
TRAIN_NAMES = ("emnlp_news.txt",)
TEST_NAMES = (
    "testdata/test_emnlp.txt",  # RelGAN, Texygen
    "testdata/emnlp_news_test.txt",  # TextGAN-PyTorch
    "test_emnlp.txt",
    "emnlp_news_test.txt",
)
_RELGAN = "https://raw.githubusercontent.com/weilinie/RelGAN/master/data/"
#: Where each file is downloaded from; the key is its path under the data folder.
URLS = {
    TRAIN_NAMES[0]: _RELGAN + "emnlp_news.txt",
    TEST_NAMES[0]: _RELGAN + "testdata/test_emnlp.txt",
}


def fetch(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically, refusing an empty file (see
    :func:`stablegan.data.files.fetch_url`)."""
    return fetch_url(url, dest, timeout,
                     lambda tmp: "the download is an empty file" if tmp.stat().st_size == 0
                     else None)


def _find(root: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``root/name`` that is a file, else None."""
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def locate(root: Path, download: bool = False) -> tuple[Path, Path]:
    """``(train, test)`` paths of the benchmark under ``root``; missing files are downloaded when
    ``download`` is true, else DataError naming the file, its URL and where to put it."""
    if root.exists() and not root.is_dir():
        raise DataError(f"data.path for emnlp-news must be a folder, got the file {root}",
                        hint=f"set data.path to the folder holding {TRAIN_NAMES[0]}")
    found: list[Path] = []
    for what, names in (("training", TRAIN_NAMES), ("test", TEST_NAMES)):
        path = _find(root, names)
        if path is None:
            dest = root / names[0]
            if not download:
                others = ", ".join(names[1:])
                raise DataError(
                    f"EMNLP2017 News {what} file not found: expected {dest}"
                    + (f" (or {others})" if others else ""),
                    hint=f"download {URLS[names[0]]} and put it at {dest}, or run with "
                    "--set data.download=true (needs internet); data.path sets the folder",
                )
            path = fetch(URLS[names[0]], dest)
        found.append(path)
    return found[0], found[1]
