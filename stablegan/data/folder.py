"""``image-folder``: every image under a directory (recursively) loaded with PIL into one in-memory
uint8 tensor (N, C, H, W), scaled to [-1, 1] per batch. Unlabelled, unless
``data.class_folders=true``: then every immediate sub-folder of ``data.path`` is one class
(torchvision's ``ImageFolder`` layout; classes numbered in sorted folder-name order, images under
each sub-folder found recursively), and a class folder without images is an error.

Modes are converted to RGB (``data.channels`` 3 or unset) or L (``data.channels`` 1): CMYK,
YCbCr, palette and other colour modes via RGB; alpha (RGBA, LA, PA) is dropped, not composited;
16-bit (I;16*) and 32-bit (I, F) greyscale are rescaled to 8 bits. With ``data.image_size`` every
image is resized (shorter side, Lanczos) and centre-cropped to a square of that side; without it
all images must share one size.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stablegan.config import DataConfig
from stablegan.data.base import FiniteSource
from stablegan.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
_LOAD_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error,
    Image.DecompressionBombError,
)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def find_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, case-insensitive extension), sorted by path."""
    return sorted(
        (p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: str(p),
    )


def _eight_bit_gray(im: Image.Image) -> Image.Image:
    """An L image from a 16-bit (I;16*), 32-bit integer (I) or float (F) greyscale image."""
    arr = np.asarray(im).astype(np.float64)
    if im.mode in _SIXTEEN_BIT or (im.mode == "I" and arr.max(initial=0) > 255):
        arr = np.clip(arr, 0, 65535) / 257.0
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def to_channels(im: Image.Image, channels: int) -> Image.Image:
    """``im`` as an 8-bit L (channels 1) or RGB (channels 3) image, alpha dropped."""
    if im.mode in _SIXTEEN_BIT or im.mode in ("I", "F"):
        im = _eight_bit_gray(im)
    elif im.mode in ("1", "L", "LA", "La"):
        im = im.convert("L")
    elif im.mode != "RGB":
        if im.mode in ("P", "PA"):
            im = im.convert("RGBA")  # applies palette transparency without warnings
        im = im.convert("RGB")
    if channels == 1 and im.mode != "L":
        im = im.convert("L")
    elif channels == 3 and im.mode != "RGB":
        im = im.convert("RGB")
    return im


def resize_square(im: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` (Lanczos) and centre-crop to ``size`` x ``size``."""
    w, h = im.size
    if (w, h) == (size, size):
        return im
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def _load(path: Path, channels: int, size: int | None) -> np.ndarray:
    """Decode one file fully into an (H, W, C) uint8 array; PIL errors propagate."""
    with Image.open(path) as im:
        im.load()  # full decode: truncated data raise here (LOAD_TRUNCATED_IMAGES stays False)
        im = to_channels(im, channels)
        if size is not None:
            im = resize_square(im, size)
        arr = np.asarray(im, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def load_folder(
    root: Path, channels: int, size: int | None, max_items: int | None = None
) -> torch.Tensor:
    """The images under ``root`` (the first ``max_items`` in path order, or all) as one uint8
    tensor (N, C, H, W)."""
    if not root.exists():
        raise DataError(f"image folder '{root}' does not exist",
                        hint="set data.path to a directory of images")
    if not root.is_dir():
        raise DataError(f"data.path '{root}' is not a directory",
                        hint="image-folder needs a directory; use data.name=tensor for .pt/.npy")
    files = find_images(root)
    if not files:
        raise DataError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under '{root}'",
            hint="put image files in the folder (subfolders are scanned too)",
        )
    files = files[:max_items] if max_items is not None else files
    arrays: list[np.ndarray] = []
    bad: list[str] = []
    for path in files:
        try:
            arrays.append(_load(path, channels, size))
        except _LOAD_ERRORS as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            bad.append(f"{path} ({reason})")
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataError(
            f"{len(bad)} unreadable image file(s) (empty, truncated or corrupt): "
            f"{'; '.join(bad[:5])}{more}",
            hint="remove these files from the folder (or re-export them)",
        )
    shapes: dict[tuple[int, ...], int] = {}
    for i, a in enumerate(arrays):
        shapes.setdefault(a.shape, i)
    if len(shapes) > 1:
        (s1, i1), (s2, i2) = list(shapes.items())[:2]
        raise DataError(
            f"images in '{root}' have different sizes, e.g. {files[i1]} is {s1[1]}x{s1[0]} and "
            f"{files[i2]} is {s2[1]}x{s2[0]}",
            hint="resize them all on loading with --set data.image_size=32 (any size)",
        )
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def class_folders(root: Path) -> list[Path]:
    """The class sub-folders of ``root`` in sorted name order; DataError when there are none
    or one holds no images."""
    if not root.is_dir():
        raise DataError(f"image folder '{root}' does not exist or is not a directory",
                        hint="set data.path to a directory with one sub-folder per class")
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.name)
    if not folders:
        raise DataError(f"data.class_folders=true but '{root}' has no sub-folders",
                        hint="put each class's images in its own sub-folder (root/cat/*.png, "
                             "root/dog/*.png), or set data.class_folders=false")
    for folder in folders:
        if not find_images(folder):
            raise DataError(f"class folder '{folder}' holds no images "
                            f"({', '.join(IMAGE_EXTENSIONS)})",
                            hint="add its images or remove the folder (every sub-folder of "
                                 "data.path is a class)")
    return folders


def image_folder(cfg: DataConfig, seed: int) -> FiniteSource:
    """The ``image-folder`` source for ``cfg.path`` (labelled by sub-folder with
    ``data.class_folders``)."""
    if not cfg.path:
        raise DataError("data 'image-folder' needs data.path", hint="--set data.path=DIR")
    root = Path(cfg.path).expanduser()
    y, num_classes, names = None, None, None
    if cfg.class_folders:
        folders = class_folders(root)
        parts = [load_folder(f, cfg.channels or 3, cfg.image_size) for f in folders]
        shapes = {tuple(p.shape[1:]) for p in parts}
        if len(shapes) > 1:
            raise DataError(f"the class folders of '{root}' hold images of different sizes",
                            hint="resize them all on loading with --set data.image_size=32")
        x = torch.cat(parts)
        y = torch.cat([torch.full((len(p),), k, dtype=torch.long) for k, p in enumerate(parts)])
        num_classes, names = len(folders), [f.name for f in folders]
    else:
        x = load_folder(root, cfg.channels or 3, cfg.image_size, cfg.max_items)
    source = FiniteSource(
        "image-folder", "images", x, y, seed, holdout_fraction=cfg.holdout_fraction,
        max_items=cfg.max_items, scale=1 / 127.5, offset=-1.0, num_classes=num_classes,
    )
    source.class_names = names
    return source
