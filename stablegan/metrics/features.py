"""Feature extractors for the metrics, and a small registry of them.

Built in:

* ``pixels``: ``f(x) = flatten(x)``; no logits.
* ``classifier``: a small domain classifier trained on the user's labelled data
  (:func:`train_domain_classifier`); features are its penultimate layer, logits its head, so IS
  and class coverage can be computed "in classifier space".
* ``inception``: torch-fidelity's ``inception-v3-compat`` (2048-d pool features and the
  bias-free 1008-way logits torch-fidelity uses for IS). Needs the torch-fidelity package and its
  weights file ``weights-inception-2015-12-05-6726825d.pth``, either at a path the user gives or
  in torch-fidelity's cache ``<torch.hub.get_dir()>/checkpoints/`` (downloaded there when online).
"""

from __future__ import annotations

import difflib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from stablegan.errors import CheckpointError, ConfigError, DataError, ShapeError
from stablegan.metrics._checks import as_tensor, check_finite, check_positive_int

INCEPTION_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILENAME
)
CLASSIFIER_FORMAT = "stablegan.domain_classifier"
_USE_CLASSIFIER = "or use --set eval.extractor=classifier"


# --------------------------------------------------------------------------------------------
# Extractors
# --------------------------------------------------------------------------------------------


class Extractor(ABC):
    """Maps samples ``(N, ...)`` to features ``(N, D)`` and, with a class head, logits (N, C)."""

    name: str = "custom"

    @abstractmethod
    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Return ``(features, logits)``; ``logits`` is ``None`` without a class head."""

    def __call__(self, x: Tensor) -> Tensor:
        return self.extract(x)[0]


class PixelExtractor(Extractor):
    """``f(x) = flatten(x)`` as float32."""

    name = "pixels"

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        x = as_tensor(x, "samples")
        return x.detach().reshape(x.shape[0], -1).to(torch.float32), None


class FunctionExtractor(Extractor):
    """Wraps a callable returning features, or a ``(features, logits)`` pair."""

    def __init__(self, fn: Callable[[Tensor], Any], name: str | None = None) -> None:
        self.fn = fn
        guess = getattr(fn, "__name__", None) or type(fn).__name__.lower()
        self.name = name or ("custom" if guess == "<lambda>" else guess)

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        with torch.no_grad():
            out = self.fn(x)
        feats, logits = out if isinstance(out, tuple) else (out, None)
        if not isinstance(feats, Tensor) or (logits is not None and not isinstance(logits, Tensor)):
            raise ConfigError(
                f"extractor '{self.name}' returned {type(out).__name__}, not tensors",
                hint="an extractor must return features (N, D) or a (features, logits) pair",
            )
        return feats.detach().reshape(feats.shape[0], -1), logits


def _batched(
    fn: Callable[[Tensor], tuple[Tensor, Tensor]], x: Tensor, batch_size: int, device: str
) -> tuple[Tensor, Tensor]:
    feats, logits = [], []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            f, z = fn(x[start:start + batch_size].to(device))
            feats.append(f.cpu())
            logits.append(z.cpu())
    return torch.cat(feats), torch.cat(logits)


# --------------------------------------------------------------------------------------------
# Domain classifier
# --------------------------------------------------------------------------------------------


class DomainClassifier(nn.Module):
    """A small CNN (inputs ``(C, H, W)``) or MLP (other inputs) with a linear class head.

    ``h = body((x - input_mean) / input_std)`` is the feature vector (penultimate layer, ReLU),
    ``logits = W h + b``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        hidden: int = 128,
        width: int = 32,
        input_mean: float = 0.0,
        input_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)
        self.hidden = int(hidden)
        self.width = int(width)
        self.register_buffer("input_mean", torch.tensor(float(input_mean)))
        self.register_buffer("input_std", torch.tensor(float(input_std)))
        if len(self.input_shape) == 3:
            c = self.input_shape[0]
            self.body: nn.Module = nn.Sequential(
                nn.Conv2d(c, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                nn.Linear(16 * width, hidden), nn.ReLU(),
            )
        else:
            d = math.prod(self.input_shape)
            self.body = nn.Sequential(
                nn.Flatten(), nn.Linear(d, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, hidden),
                nn.ReLU(),
            )
        self.head = nn.Linear(hidden, num_classes)

    @property
    def hparams(self) -> dict[str, Any]:
        """The constructor arguments, enough to rebuild the network before loading weights."""
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes,
                "hidden": self.hidden, "width": self.width}

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body((x.to(self.input_mean.dtype) - self.input_mean) / self.input_std)
        return h, self.head(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[1]


class ClassifierExtractor(Extractor):
    """Penultimate features and logits of a :class:`DomainClassifier`, in batches."""

    name = "classifier"

    def __init__(self, model: DomainClassifier, batch_size: int = 512, device: str = "cpu") -> None:
        if not isinstance(model, DomainClassifier):
            raise ConfigError(
                f"the classifier extractor needs a DomainClassifier, got {type(model).__name__}",
                hint="train one with train_domain_classifier or load one with "
                     "load_domain_classifier",
            )
        self.model = model.to(device).eval()
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.device = device

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        x = as_tensor(x, "samples")
        if tuple(x.shape[1:]) != self.model.input_shape:
            raise ShapeError(
                f"samples have shape {tuple(x.shape)} but the classifier was trained on samples "
                f"of shape {self.model.input_shape}",
                hint="train the domain classifier on data of the same shape as the samples",
            )
        check_finite(x, "samples")
        return _batched(self.model.features_and_logits, x.detach().float(), self.batch_size,
                        self.device)


def _check_labelled(x: Tensor, y: Tensor, num_classes: int | None) -> tuple[Tensor, Tensor, int]:
    x = as_tensor(x, "x").detach().cpu()
    y = as_tensor(y, "y").detach().cpu()
    check_finite(x, "x")
    if y.dim() != 1 or y.is_floating_point() or y.dtype == torch.bool or len(y) != len(x):
        raise DataError(
            f"y must be integer labels of shape ({len(x)},), got dtype {y.dtype} and shape "
            f"{tuple(y.shape)}",
            hint="pass one integer class index per sample of x",
        )
    y = y.long()
    if num_classes is None:
        num_classes = int(y.max()) + 1
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise DataError(
            f"labels lie in [{int(y.min())}, {int(y.max())}], outside [0, {num_classes})",
            hint="pass labels 0..num_classes-1",
        )
    return x.float(), y, num_classes


def train_domain_classifier(
    x: Tensor,
    y: Tensor,
    num_classes: int | None = None,
    epochs: int = 10,
    seed: int = 0,
    *,
    test_fraction: float = 0.2,
    batch_size: int = 128,
    lr: float = 1e-3,
    hidden: int = 128,
    width: int = 32,
    device: str = "cpu",
) -> tuple[DomainClassifier, float]:
    """Train a :class:`DomainClassifier` with Adam on cross-entropy; return it and test accuracy.

    A random ``test_fraction`` of the samples (permutation from ``seed``) is held out; the test
    accuracy is ``#{argmax logits = y} / n_test`` on it. Inputs are standardised by the training
    split's scalar mean and std, stored in the model. Deterministic for a given ``seed`` on CPU.
    """
    x, y, num_classes = _check_labelled(x, y, num_classes)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction!r}",
                          hint="pass test_fraction=0.2")
    n = len(x)
    n_test = max(1, round(float(test_fraction) * n))
    if n - n_test < 1:
        raise DataError(f"x has {n} samples, too few to hold out a test split and still train",
                        hint="pass at least 2 labelled samples (hundreds for a useful classifier)")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    x_train, y_train = x[train_idx], y[train_idx]
    std = float(x_train.std()) if x_train.numel() > 1 else 1.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DomainClassifier(x.shape[1:], num_classes, hidden, width,
                                 input_mean=float(x_train.mean()), input_std=std or 1.0)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=gen)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(x_train[idx].to(device)), y_train[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        _, logits = _batched(model.features_and_logits, x[test_idx], 1024, device)
    accuracy = float((logits.argmax(dim=1) == y[test_idx]).float().mean())
    return model.cpu(), accuracy


def save_domain_classifier(model: DomainClassifier, path: str | Path) -> Path:
    """``torch.save({"format", "version", "hparams", "state_dict"}, path)``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CLASSIFIER_FORMAT, "version": 1, "hparams": model.hparams,
                "state_dict": model.state_dict()}, out)
    return out


def load_domain_classifier(path: str | Path) -> DomainClassifier:
    """Rebuild a :class:`DomainClassifier` saved by :func:`save_domain_classifier`.

    Loads with ``torch.load(weights_only=True)``: no code in the file is executed.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"domain classifier file not found: {p}",
                              hint="train one with train_domain_classifier and save it there")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means an unusable file
        raise CheckpointError(f"cannot read domain classifier {p}: {exc.__class__.__name__}",
                              hint="the file is corrupt or not a torch.save file; "
                                   "retrain and save it again") from exc
    if not isinstance(blob, dict) or blob.get("format") != CLASSIFIER_FORMAT:
        raise CheckpointError(f"{p} is not a stablegan domain classifier",
                              hint="pass a file written by save_domain_classifier")
    try:
        model = DomainClassifier(**blob["hparams"])
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"domain classifier {p} is incompatible: {exc}".splitlines()[0],
                              hint="retrain and save it with this version of stablegan") from exc
    return model.eval()


# --------------------------------------------------------------------------------------------
# Inception-v3 through torch-fidelity
# --------------------------------------------------------------------------------------------


def inception_cache_path() -> Path:
    """Where torch-fidelity keeps the weights: ``<torch.hub.get_dir()>/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILENAME


def _inception_missing(path: Path, why: str) -> DataError:
    return DataError(
        f"Inception-v3 weights {why}: expected the file {path.name} at {path}",
        hint=f"download {INCEPTION_URL} to {path} (or pass weights_path=...), {_USE_CLASSIFIER}",
    )


def _to_uint8(x: Tensor, value_range: tuple[float, float]) -> Tensor:
    """``round(255 (x - lo) / (hi - lo))`` clipped to [0, 255]; 1 channel repeated to 3."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise DataError(
            f"the inception extractor needs images (N, C, H, W) with C = 1 or 3, got shape "
            f"{tuple(x.shape)}",
            hint=f"use the pixels or classifier extractor for non-image data, {_USE_CLASSIFIER}",
        )
    if x.dtype != torch.uint8:
        check_finite(x, "samples")
        lo, hi = value_range
        x = ((x.detach().double() - lo) / (hi - lo) * 255).round().clamp(0, 255).to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class InceptionExtractor(Extractor):
    """torch-fidelity's Inception-v3 (``inception-v3-compat``): 2048-d features, 1008 logits.

    Float images are mapped from ``value_range`` to uint8 (uint8 input is used as is); torch-
    fidelity resizes them to 299 x 299. The weights are read from ``weights_path``, else from
    :func:`inception_cache_path`, downloaded there first when ``download`` and online.
    """

    name = "inception"

    def __init__(
        self,
        weights_path: str | Path | None = None,
        *,
        download: bool = True,
        value_range: tuple[float, float] = (-1.0, 1.0),
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        self.value_range = (float(value_range[0]), float(value_range[1]))
        if not self.value_range[1] > self.value_range[0]:
            raise ConfigError(f"value_range must be (low, high) with low < high, got {value_range}",
                              hint="pass value_range=(-1, 1) for tanh outputs or (0, 1)")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.device = device
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise _inception_missing(path, "not found")
        else:
            path = inception_cache_path()
            if not path.is_file() and not download:
                raise _inception_missing(path, "not found in torch-fidelity's cache")
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except Exception as exc:  # ImportError, or a torchvision built for another torch
            reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            raise ConfigError(
                f"the inception extractor needs torch-fidelity, which fails to import ({reason})",
                hint="pip install torch-fidelity==0.4.0 and a torchvision built for your torch, "
                     + _USE_CLASSIFIER,
            ) from exc
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                torch.hub.download_url_to_file(INCEPTION_URL, str(path), progress=False)
            except Exception as exc:  # offline, proxy, disk: all mean "no file"
                why = f"could not be downloaded ({exc.__class__.__name__})"
                raise _inception_missing(path, why) from exc
        try:  # check that the file holds only tensors before torch-fidelity unpickles it
            torch.load(path, map_location="cpu", weights_only=True)
            model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                feature_extractor_weights_path=str(path))
        except Exception as exc:  # unreadable or mismatched weights
            raise CheckpointError(f"cannot load Inception-v3 weights from {path}: "
                                  f"{exc.__class__.__name__}",
                                  hint=f"delete the file and download {INCEPTION_URL} again, "
                                       + _USE_CLASSIFIER) from exc
        self.model = model.to(device).eval()

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        x = _to_uint8(as_tensor(x, "samples"), self.value_range)
        return _batched(lambda b: tuple(self.model(b)), x, self.batch_size, self.device)


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _classifier_factory(
    model: DomainClassifier | None = None,
    path: str | Path | None = None,
    batch_size: int = 512,
    device: str = "cpu",
) -> Extractor:
    if model is None and path is None:
        raise ConfigError(
            "the classifier extractor needs a trained domain classifier",
            hint="train one with train_domain_classifier(x, y, ...) and pass model=..., or pass "
                 "path=... of a file saved by save_domain_classifier",
        )
    if model is None:
        model = load_domain_classifier(path)  # type: ignore[arg-type]
    return ClassifierExtractor(model, batch_size=batch_size, device=device)


_REGISTRY: dict[str, Callable[..., Any]] = {
    "pixels": PixelExtractor,
    "classifier": _classifier_factory,
    "inception": InceptionExtractor,
}


def register_extractor(name: str, factory: Callable[..., Any], *, overwrite: bool = False) -> None:
    """Register ``factory(**kw)`` (returning an :class:`Extractor` or a callable) under ``name``."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"extractor name must be a non-empty string without '/', got {name!r}",
                          hint="metric keys are named <metric>/<extractor>")
    if not callable(factory):
        raise ConfigError(f"extractor factory for '{name}' is not callable",
                          hint="pass a function or class that builds the extractor")
    if name in _REGISTRY and not overwrite:
        raise ConfigError(f"extractor '{name}' is already registered",
                          hint="pick another name or pass overwrite=True")
    _REGISTRY[name] = factory


def available_extractors() -> list[str]:
    """Names accepted by :func:`get_extractor`."""
    return sorted(_REGISTRY)


def get_extractor(name: str, **kwargs: Any) -> Extractor:
    """Build the extractor registered as ``name`` with ``kwargs``; its ``.name`` is ``name``."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        did_you_mean = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown feature extractor '{name}'",
                          hint=f"{did_you_mean}available: {', '.join(available_extractors())}")
    factory = _REGISTRY[name]
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad options for extractor '{name}': {exc}",
                          hint=f"accepted: {inspect.signature(factory)}") from exc
    except ValueError:  # no signature available (some builtins): let the call decide
        pass
    built = factory(**kwargs)
    extractor = built if isinstance(built, Extractor) else FunctionExtractor(built, name)
    extractor.name = name
    return extractor


def resolve_extractor(spec: str | Extractor | Callable[[Tensor], Any], **kwargs: Any) -> Extractor:
    """An :class:`Extractor` from a registered name, an extractor, or a plain callable."""
    if kwargs and not isinstance(spec, str):
        raise ConfigError(
            f"extractor options {sorted(kwargs)} only apply to a registered extractor name",
            hint="pass the options to the extractor you built, or pass its registered name",
        )
    if isinstance(spec, Extractor):
        return spec
    if isinstance(spec, str):
        return get_extractor(spec, **kwargs)
    if callable(spec):
        return FunctionExtractor(spec)
    raise ConfigError(f"extractor must be a name or a callable, got {type(spec).__name__}",
                      hint=f"use one of: {', '.join(available_extractors())}")
