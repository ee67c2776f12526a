"""Feature extractors: registry, domain classifier, Inception bridge errors."""

from __future__ import annotations

import sys

import pytest
import torch
from sklearn.datasets import load_digits

from stablegan.errors import CheckpointError, ConfigError, DataError, ShapeError
from stablegan.metrics import (
    DomainClassifier,
    Extractor,
    available_extractors,
    get_extractor,
    inception_cache_path,
    load_domain_classifier,
    register_extractor,
    save_domain_classifier,
    train_domain_classifier,
)
from stablegan.metrics import features as features_mod
from stablegan.metrics.features import INCEPTION_FILENAME, InceptionExtractor


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's bundled 8x8 digits (1,797 images, no download) scaled to [-1, 1]."""
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 8.0 - 1.0
    return x, torch.tensor(d.target, dtype=torch.long)


@pytest.fixture(scope="module")
def digit_classifier(digits) -> tuple[DomainClassifier, float]:
    x, y = digits
    return train_domain_classifier(x, y, num_classes=10, epochs=10, seed=0)


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(features_mod, "_REGISTRY", dict(features_mod._REGISTRY))


# -------------------------------------------------------------------------------- registry


def test_builtin_extractors_and_pixels():
    assert {"pixels", "classifier", "inception"} <= set(available_extractors())
    ext = get_extractor("pixels")
    feats, logits = ext.extract(torch.ones(4, 3, 2, 2, dtype=torch.float64))
    assert ext.name == "pixels" and feats.shape == (4, 12) and logits is None


def test_register_and_get_custom_extractor(clean_registry):
    register_extractor("halves", lambda scale=1.0: (lambda x: x.reshape(len(x), -1)[:, :2] * scale))
    ext = get_extractor("halves", scale=2.0)
    assert isinstance(ext, Extractor) and ext.name == "halves"
    assert ext(torch.ones(3, 5)).tolist() == [[2.0, 2.0]] * 3
    with pytest.raises(ConfigError, match="already registered"):
        register_extractor("halves", lambda: None)
    register_extractor("halves", lambda: (lambda x: (x, x[:, :1])), overwrite=True)
    assert get_extractor("halves").extract(torch.ones(2, 3))[1].shape == (2, 1)


def test_registry_errors(clean_registry):
    with pytest.raises(ConfigError, match="unknown feature extractor 'pixel'") as err:
        get_extractor("pixel")
    assert "did you mean 'pixels'" in err.value.hint
    with pytest.raises(ConfigError, match="bad options"):
        get_extractor("pixels", size=3)
    with pytest.raises(ConfigError):
        register_extractor("a/b", lambda: None)
    with pytest.raises(ConfigError):
        register_extractor("x", 3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a trained domain classifier"):
        get_extractor("classifier")


# ------------------------------------------------------------------------ domain classifier


@pytest.mark.slow
def test_domain_classifier_learns_digits(digit_classifier):
    _, accuracy = digit_classifier
    assert accuracy > 0.9


@pytest.mark.slow
def test_domain_classifier_is_deterministic(digits):
    x, y = digits
    a, acc_a = train_domain_classifier(x[:300], y[:300], 10, epochs=1, seed=3)
    b, acc_b = train_domain_classifier(x[:300], y[:300], 10, epochs=1, seed=3)
    assert acc_a == acc_b
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_mlp_classifier_for_vectors():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    y = torch.randint(0, 3, (600,), generator=g)
    x = centres[y] + 0.3 * torch.randn(600, 2, generator=g)
    model, accuracy = train_domain_classifier(x, y, epochs=5, seed=0)
    assert accuracy > 0.95 and model.num_classes == 3
    feats, logits = get_extractor("classifier", model=model).extract(x[:10])
    assert feats.shape == (10, model.hidden) and logits.shape == (10, 3)


@pytest.mark.slow
def test_classifier_extractor_and_save_load(digit_classifier, digits, tmp_path):
    model, _ = digit_classifier
    x, _ = digits
    path = save_domain_classifier(model, tmp_path / "clf" / "digits.pt")
    blob = torch.load(path, weights_only=True)
    assert blob["hparams"] == {"input_shape": [1, 8, 8], "num_classes": 10, "hidden": 128,
                               "width": 32}
    loaded = load_domain_classifier(path)
    ext = get_extractor("classifier", path=path)
    feats, logits = ext.extract(x[:50])
    assert feats.shape == (50, 128) and logits.shape == (50, 10)
    with torch.no_grad():
        torch.testing.assert_close(logits, loaded(x[:50]))
        torch.testing.assert_close(logits, model(x[:50]))
    with pytest.raises(ShapeError, match=r"\(3, 1, 28, 28\).*\(1, 8, 8\)"):
        ext.extract(torch.zeros(3, 1, 28, 28))


def test_load_domain_classifier_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_domain_classifier(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_domain_classifier(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a stablegan domain classifier"):
        load_domain_classifier(tmp_path / "other.pt")
    model = DomainClassifier((4,), 3)
    blob = {"format": "stablegan.domain_classifier", "version": 1,
            "hparams": {**model.hparams, "num_classes": 5}, "state_dict": model.state_dict()}
    torch.save(blob, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="incompatible"):
        load_domain_classifier(tmp_path / "mismatch.pt")


def test_train_domain_classifier_bad_inputs():
    x = torch.randn(20, 3)
    with pytest.raises(DataError, match="integer labels"):
        train_domain_classifier(x, torch.rand(20))
    with pytest.raises(DataError, match="outside"):
        train_domain_classifier(x, torch.arange(20) % 4, num_classes=3)
    with pytest.raises(ConfigError):
        train_domain_classifier(x, torch.arange(20) % 2, test_fraction=1.0)
    bad = x.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(DataError, match="NaN/inf"):
        train_domain_classifier(bad, torch.arange(20) % 2)


# -------------------------------------------------------------------------- inception bridge


def test_inception_without_weights_names_the_expected_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    expected = tmp_path / "torch-home" / "hub" / "checkpoints" / INCEPTION_FILENAME
    assert inception_cache_path() == expected
    with pytest.raises(DataError) as err:
        get_extractor("inception", download=False)
    assert INCEPTION_FILENAME in str(err.value) and str(expected) in str(err.value)
    assert "--set eval.extractor=classifier" in err.value.hint
    assert "https://github.com/toshas/torch-fidelity/releases/" in err.value.hint


def test_inception_with_a_missing_user_path_names_it(tmp_path):
    missing = tmp_path / "nowhere" / INCEPTION_FILENAME
    with pytest.raises(DataError, match="not found") as err:
        InceptionExtractor(missing)
    assert str(missing) in str(err.value)
    assert "--set eval.extractor=classifier" in err.value.hint


def test_inception_without_torch_fidelity_says_so(tmp_path, monkeypatch):
    weights = tmp_path / INCEPTION_FILENAME
    torch.save({}, weights)
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # makes the import fail
    with pytest.raises(ConfigError, match="needs torch-fidelity, which fails to import") as err:
        InceptionExtractor(weights)
    assert "--set eval.extractor=classifier" in err.value.hint


def test_inception_rejects_non_images():
    with pytest.raises(DataError, match="needs images"):
        features_mod._to_uint8(torch.zeros(4, 10), (-1.0, 1.0))
    u8 = features_mod._to_uint8(torch.tensor([-1.0, 0.0, 1.0, 2.0]).reshape(1, 1, 2, 2), (-1, 1))
    assert u8.shape == (1, 3, 2, 2) and u8[0, 0].flatten().tolist() == [0, 128, 255, 255]
