"""Shared tiny fixtures for the core tests: small configs, toy critics and image tensors.

Everything here is sized to run in milliseconds on a CPU: MLPs of width 16 with one hidden layer,
batches of 16, 2-D ring data or 1x8x8 images.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from stablegan.config import Config
from stablegan.recipes import load_config

# Tiny tensors are far faster single-threaded (a (16, 16) BatchNorm takes ~0.1 s with 2 OpenMP
# threads on a busy 2-core machine, 50 us with one).
torch.set_num_threads(1)
# Domain classifiers trained by tests (and the subprocesses they start, which inherit the
# environment) never land in the user's cache.
os.environ.setdefault("STABLEGAN_CACHE_DIR", tempfile.mkdtemp(prefix="stablegan-test-cache-"))
try:  # numpy/scipy BLAS too (metric tests); threadpoolctl ships with scikit-learn
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``code`` (dedented) in a fresh interpreter that imports this checkout, its cache in
    ``tmp_path``: for what an import or a command does to a new process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STABLEGAN_CACHE_DIR": str(tmp_path / "c")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------------------------------------
# pytest.approx(tensor) guard: pytest >= 9.2 iterates what it is given, and a 0-d tensor cannot
# be iterated ("TypeError: iteration over a 0-d tensor"); older pytest compared it by accident.
# Every test compares plain floats, so a tensor handed to approx fails at once with the fix.
# ---------------------------------------------------------------------------------------------
_pytest_approx = pytest.approx


def _tensor_inside(expected: object, depth: int = 0) -> bool:
    if isinstance(expected, Tensor):
        return True
    if depth >= 3 or isinstance(expected, (str, bytes)):
        return False
    if isinstance(expected, dict):
        return any(_tensor_inside(v, depth + 1) for v in expected.values())
    if isinstance(expected, (list, tuple, set, frozenset)):
        return any(_tensor_inside(v, depth + 1) for v in expected)
    return False


def approx_without_tensors(expected: object, *args: Any, **kwargs: Any) -> Any:
    """``pytest.approx`` that refuses torch tensors with a message naming the fix."""
    if _tensor_inside(expected):
        raise TypeError(
            "pytest.approx was given a torch.Tensor; compare plain floats instead: "
            "pytest.approx(float(t)) or t.item() (pytest >= 9.2 iterates a tensor and fails "
            "on 0-d ones), or use torch.testing.assert_close for whole tensors")
    return _pytest_approx(expected, *args, **kwargs)


pytest.approx = approx_without_tensors  # type: ignore[assignment]

TINY = [
    "data.batch_size=16",
    "model.hidden=16",
    "model.layers=1",
    "log.progress=false",
    "log.tensorboard=false",
    "log.every=1",
    "log.sample_every=1000",
    "eval.n_samples=64",
]


def make_config(*overrides: str, method: str | None = None, steps: int = 3,
                recipe: str | None = "ring-small", config_file: str | Path | None = None) -> Config:
    """A validated tiny config: ``recipe`` (or ``config_file``) + TINY + method + overrides.

    The default is ``ring-small`` (Adam at 1e-4, no decay), the ring recipe these tests were
    written and calibrated on; the tuned ``ring`` recipe trains at 1e-3, which scales, e.g., the
    DDP test's reduction-order weight gaps by 10."""
    extra = list(TINY) + ([f"method={method}"] if method else []) + list(overrides)
    if config_file is not None:
        recipe = None
    return load_config(recipe, config_file, extra, steps)


@pytest.fixture
def make_cfg() -> Callable[..., Config]:
    return make_config


@pytest.fixture
def image_tensor_file(tmp_path: Path) -> Path:
    """64 random 1x8x8 'images' in [-1, 1] saved as a .pt file (the ``tensor`` data source)."""
    gen = torch.Generator().manual_seed(123)
    x = torch.rand(64, 1, 8, 8, generator=gen) * 2 - 1
    path = tmp_path / "images.pt"
    torch.save(x, path)
    return path


@pytest.fixture
def image_overrides(image_tensor_file: Path) -> list[str]:
    """--set items for a tiny DCGAN on the 1x8x8 tensor file."""
    return [
        "data.name=tensor",
        f"data.path={image_tensor_file}",
        "model.name=dcgan",
        "model.channels=4",
        "model.latent_dim=8",
    ]


class LinearCritic(nn.Module):
    """f(x) = a . flatten(x): input gradient a for every sample."""

    def __init__(self, a: Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone().float())

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.a


class UserGenerator(nn.Module):
    """A plain user generator z (B, 4) -> x (B, out)."""

    latent_dim = 4

    def __init__(self, out: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, out))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class UserDiscriminator(nn.Module):
    """A plain user critic x (B, 2) -> (B, out), without forward_features."""

    def __init__(self, out: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, out))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def flat_state(obj: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts/lists of tensors and scalars flattened to ``{path: leaf}``."""
    out: dict[str, object] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flat_state(v, f"{prefix}/{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flat_state(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = obj
    return out


def assert_states_identical(a: object, b: object) -> None:
    """Every tensor bitwise equal (torch.equal) and every scalar equal, same keys."""
    fa, fb = flat_state(a), flat_state(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        x, y = fa[k], fb[k]
        if isinstance(x, Tensor):
            assert isinstance(y, Tensor), k
            assert x.dtype == y.dtype and x.shape == y.shape, k
            assert torch.equal(x, y), f"tensor {k} differs"
        else:
            assert x == y, f"{k}: {x!r} != {y!r}"


@pytest.fixture
def linear_critic() -> type[LinearCritic]:
    return LinearCritic


@pytest.fixture
def user_modules() -> tuple[type[UserGenerator], type[UserDiscriminator]]:
    return UserGenerator, UserDiscriminator


@pytest.fixture
def states_identical() -> Callable[[object, object], None]:
    return assert_states_identical


# ---------------------------------------------------------------------------------------------
# the project's shared data (../shared/data beside the checkout): read there, never copied
# ---------------------------------------------------------------------------------------------
def shared_data_dir() -> Path | None:
    """``$STABLEGAN_SHARED_DATA`` (or ``$STABLEGAN_SHARED``/data), else ``shared/data`` beside
    the checkout or any folder above it (a git worktree sits deeper than the main checkout)."""
    roots = []
    for env, sub in (("STABLEGAN_SHARED_DATA", ""), ("STABLEGAN_SHARED", "data")):
        if os.environ.get(env):
            roots.append(Path(os.environ[env]) / sub)
    repo = Path(__file__).resolve().parents[1]
    roots += [parent / "shared" / "data" for parent in repo.parents]
    return next((r for r in roots if (r / "text").is_dir()), None)


def shared_file(rel: str) -> Path:
    """A file under the shared data folder; skips the calling test when it is absent."""
    root = shared_data_dir()
    if root is None or not (root / rel).is_file():
        pytest.skip(f"shared data file {rel} not found (set STABLEGAN_SHARED_DATA)")
    return root / rel


# ---------------------------------------------------------------------------------------------
# resume checks shared by the phase, text and style tests
# ---------------------------------------------------------------------------------------------
def rows(path: Path) -> list[dict]:
    out = [json.loads(line) for line in path.read_text().splitlines()]
    for r in out:
        r.pop("time/sec", None)
    return out


def assert_same_weights(a: Any, b: Any) -> None:
    """Every network and optimiser state of ``a`` and ``b`` bitwise equal."""
    assert a.method.networks.keys() == b.method.networks.keys()
    for name, net in a.method.networks.items():
        other = b.method.networks[name].state_dict()
        for k, t in net.state_dict().items():
            assert torch.equal(t, other[k]), f"{name}.{k} differs"
    assert a.method.optimizers.keys() == b.method.optimizers.keys()
    for name, opt in a.method.optimizers.items():
        sa, sb = opt.state_dict(), b.method.optimizers[name].state_dict()
        assert sa["state"].keys() == sb["state"].keys(), name
        for pid, st in sa["state"].items():
            for k, t in st.items():
                assert torch.equal(t, sb["state"][pid][k]), f"optimiser {name} {pid}.{k} differs"
    assert a.method.counts == b.method.counts
