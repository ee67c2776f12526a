"""The public entry point ``evaluate``: keys, floors, timing and every bad-input case."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from stablegan.errors import ConfigError, DataError, ShapeError, StableganError
from stablegan.metrics import (
    evaluate,
    fid_from_features,
    kid_from_features,
    prdc,
    sliced_wasserstein,
    train_domain_classifier,
)
from stablegan.metrics.features import ClassifierExtractor


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits_split():
    """Digits in [-1, 1]: a classifier's training half, then two disjoint evaluation halves."""
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 8.0 - 1.0
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(x), generator=_gen(0))
    x, y = x[perm], y[perm]
    model, _ = train_domain_classifier(x[:900], y[:900], 10, epochs=8, seed=0)
    return model, x[900:1300], x[1300:1700]


def test_evaluate_pixels_keys_and_values_match_the_functions():
    g = _gen(1)
    real = torch.randn(120, 2, 3, 3, generator=g)
    fake = torch.randn(100, 2, 3, 3, generator=g) + 0.5
    metrics = ["fid", "kid", "prdc", "swd", "memorisation"]
    out = evaluate(fake, real, metrics, k=3, kid_subsets=5)
    expected_keys = {"extractor", "fid/pixels", "kid/pixels", "kid_std/pixels", "precision/pixels",
                     "recall/pixels", "density/pixels", "coverage/pixels", "swd/pixels",
                     "memorisation/pixels", "memorisation_threshold/pixels", "nn_distance/pixels"}
    assert set(out) == expected_keys
    assert out["extractor"] == "pixels"
    f, r = fake.reshape(100, -1), real.reshape(120, -1)
    assert out["fid/pixels"] == pytest.approx(fid_from_features(f, r), rel=1e-12)
    kid = kid_from_features(f, r, subsets=5, subset_size=100, seed=0)
    assert (out["kid/pixels"], out["kid_std/pixels"]) == pytest.approx(kid, rel=1e-12)
    assert out["coverage/pixels"] == prdc(r, f, 3)["coverage"]
    assert out["swd/pixels"] == pytest.approx(sliced_wasserstein(f, r, 128, seed=0))


def test_evaluate_floor_and_timing():
    g = _gen(2)
    real = torch.randn(150, 4, generator=g)
    holdout = torch.randn(150, 4, generator=g)
    fake = torch.randn(150, 4, generator=g) * 2.0 + 1.0
    out, timing = evaluate(fake, real, ["fid", "precision", "swd"], real_holdout=holdout,
                           return_timing=True)
    assert {"floor/fid/pixels", "floor/precision/pixels", "floor/swd/pixels"} <= set(out)
    assert "floor/recall/pixels" not in out and "recall/pixels" not in out
    assert out["floor/fid/pixels"] < out["fid/pixels"]
    assert out["floor/swd/pixels"] < out["swd/pixels"]
    assert out["floor/precision/pixels"] > out["precision/pixels"]
    assert set(timing) == {"features", "fid", "prdc", "swd", "floor/fid", "floor/prdc",
                           "floor/swd"}
    assert all(t >= 0 for t in timing.values())


@pytest.mark.slow
def test_evaluate_in_classifier_space(digits_split):
    model, real, holdout = digits_split
    collapsed = real[:1].repeat(400, 1, 1, 1) + 0.01 * torch.randn(400, 1, 8, 8, generator=_gen(3))
    metrics = ["fid", "is", "class_coverage", "class_kl", "precision"]
    good = evaluate(holdout, real, metrics, extractor="classifier",
                    extractor_kwargs={"model": model}, real_holdout=holdout)
    bad = evaluate(collapsed, real, metrics, extractor=ClassifierExtractor(model))
    assert good["extractor"] == "classifier"
    assert good["class_coverage/classifier"] == 10 and good["num_classes/classifier"] == 10
    assert bad["class_coverage/classifier"] == 1
    assert good["is/classifier"] > 5 > bad["is/classifier"]
    assert good["class_kl/classifier"] < 0.1 < bad["class_kl/classifier"]
    assert good["fid/classifier"] < bad["fid/classifier"]
    assert good["floor/fid/classifier"] == good["fid/classifier"]  # fake was the holdout itself


def test_evaluate_with_labels_fn_and_callable_extractor():
    g = _gen(4)
    real = torch.randn(60, 3, generator=g)
    fake = torch.randn(60, 3, generator=g)

    def sign_of_first(x):
        return (x[:, 0] > 0).long()

    def first_two(x):
        return x[:, :2]

    out = evaluate(fake, real, ["class", "swd"], extractor=first_two, labels_fn=sign_of_first)
    assert set(out) == {"extractor", "class_coverage/labels", "num_classes/labels",
                        "class_kl/labels", "swd/first_two"}
    assert out["class_coverage/labels"] == 2


def test_evaluate_notes_rank_deficient_fid():
    g = _gen(5)
    out = evaluate(torch.randn(20, 30, generator=g), torch.randn(25, 30, generator=g), ["fid"])
    assert "rank-deficient" in out["notes"] and "fid/pixels" in out["notes"]


# ----------------------------------------------------------------------------- bad inputs


def _nan_features(x):
    return torch.full((len(x), 2), float("nan"))


def _wrong_rows(x):
    return torch.zeros(len(x) + 1, 2)


BAD_CASES = [
    # (fake, real, metrics, kwargs, error class, message pattern)
    (torch.randn(10, 3, 8, 8), torch.randn(10, 1, 8, 8), ["fid"], {}, ShapeError,
     r"\(10, 3, 8, 8\).*\(10, 1, 8, 8\)"),
    (torch.randn(10, 4), torch.randn(10, 4), ["fid"], {"real_holdout": torch.randn(10, 5)},
     ShapeError, r"real_holdout has shape \(10, 5\)"),
    (torch.tensor([[float("nan"), 0.0]] * 10), torch.randn(10, 2), ["swd"], {}, DataError,
     "fake contains 1"),
    (torch.randn(10, 2), torch.randn(10, 2), ["fid"], {"extractor": _nan_features}, DataError,
     "_nan_features features of fake contains"),
    (torch.randn(10, 2), torch.randn(10, 2), ["fid"], {"extractor": _wrong_rows}, DataError,
     "returned features of shape"),
    (torch.randn(4, 2), torch.randn(10, 2), ["precision"], {}, DataError,
     r"fake has 4 sample\(s\) but at least 6.*k=5"),
    (torch.randn(1, 2), torch.randn(10, 2), ["fid"], {}, DataError, "at least 2.*covariance"),
    (torch.randn(10, 2), torch.randn(10, 2), ["kid"], {"kid_subset_size": 50}, DataError,
     "at least 50.*KID"),
    (torch.randn(10, 2), torch.randn(10, 2), ["is"], {}, ConfigError, "needs class logits"),
    (torch.randn(5, 2), torch.randn(10, 2), ["is"],
     {"extractor": lambda x: (x, x)}, DataError, "at least 10.*splits"),
    (torch.randn(10, 2), torch.randn(10, 2), ["class_kl"], {}, ConfigError,
     "class metrics need class predictions"),
    (torch.randn(10, 2), torch.randn(10, 2), ["fdi"], {}, ConfigError, "unknown metric 'fdi'"),
    (torch.randn(10, 2), torch.randn(10, 2), [], {}, ConfigError, "no metrics"),
    (torch.randn(10, 2), torch.randn(10, 2), ["fid"], {"extractor": "inceptoin"}, ConfigError,
     "unknown feature extractor"),
    (torch.randn(10, 2), torch.randn(10, 2), ["fid"], {"k": 0}, ConfigError, "k must be"),
    (torch.zeros(0, 2), torch.randn(10, 2), ["fid"], {}, DataError, "fake has no samples"),
    (torch.randn(10, 2), torch.randn(10, 2), ["fid"],
     {"extractor": _wrong_rows, "extractor_kwargs": {"batch_size": 2}}, ConfigError,
     "only apply to a registered extractor"),
    ([[1.0, 2.0]], torch.randn(10, 2), ["fid"], {}, DataError, "must be a torch.Tensor"),
]


@pytest.mark.parametrize(("fake", "real", "metrics", "kwargs", "error", "pattern"), BAD_CASES)
def test_evaluate_bad_inputs_raise(fake, real, metrics, kwargs, error, pattern):
    with pytest.raises(error, match=pattern) as err:
        evaluate(fake, real, metrics, **kwargs)
    assert isinstance(err.value, StableganError) and err.value.hint
    assert "\n" not in err.value.message


def test_unknown_metric_suggests_the_right_one():
    with pytest.raises(ConfigError) as err:
        evaluate(torch.randn(10, 2), torch.randn(10, 2), ["presicion"])
    assert "did you mean 'precision'" in err.value.hint
