"""Our FID, KID, IS and Inception bridge against torch-fidelity's own code, when it is importable.

torch-fidelity 0.4.0 imports torchvision at package import time, although its metric functions and
its Inception-v3 module never use it. When torch-fidelity is installed but torchvision is not, the
fixture below imports it over a minimal stand-in for torchvision (removed again afterwards), so the
comparison still runs against torch-fidelity's real metric code. Without torch-fidelity the tests
skip.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
import torch

from stablegan.metrics import (
    fid_from_features,
    get_extractor,
    inception_score_from_logits,
    kid_from_features,
)

_TORCHVISION_STUB = ("torchvision", "torchvision.datasets", "torchvision.transforms",
                     "torchvision.transforms.functional", "torchvision.models")


def _drop_torch_fidelity() -> None:
    for name in list(sys.modules):
        if name == "torch_fidelity" or name.startswith("torch_fidelity."):
            del sys.modules[name]


def _stub_modules() -> dict[str, types.ModuleType]:
    mods = {name: types.ModuleType(name) for name in _TORCHVISION_STUB}
    for name, mod in mods.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(mods[parent], child, mod)
    for cls in ("CIFAR10", "CIFAR100", "STL10"):
        setattr(mods["torchvision.datasets"], cls, type(cls, (), {}))
    return mods


@pytest.fixture(scope="module")
def tfid() -> Iterator[types.SimpleNamespace]:
    """torch-fidelity's metric functions and Inception-v3 class."""
    stubbed: list[str] = []
    try:
        import torch_fidelity  # noqa: F401
    except ModuleNotFoundError as exc:
        _drop_torch_fidelity()
        if exc.name != "torchvision":
            pytest.skip(f"torch-fidelity is not importable: {exc}")
        stubs = _stub_modules()
        sys.modules.update(stubs)
        stubbed = list(stubs)
    except Exception as exc:  # e.g. a torchvision built for another torch
        _drop_torch_fidelity()
        pytest.skip(f"torch-fidelity is not importable: {exc.__class__.__name__}: {exc}")
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
        from torch_fidelity.metric_isc import isc_features_to_metric
        from torch_fidelity.metric_kid import kid_features_to_metric

        yield types.SimpleNamespace(
            fid=lambda a, b: fid_statistics_to_metric(
                fid_features_to_statistics(a), fid_features_to_statistics(b), False
            )["frechet_inception_distance"],
            kid=kid_features_to_metric,
            isc=isc_features_to_metric,
            Inception=FeatureExtractorInceptionV3,
        )
    finally:
        if stubbed:
            _drop_torch_fidelity()
            for name in stubbed:
                sys.modules.pop(name, None)


def test_fid_matches_torch_fidelity(tfid):
    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(400, 48, generator=g, dtype=torch.float64)
    f2 = torch.randn(350, 48, generator=g, dtype=torch.float64) * 0.8 + 0.3
    assert fid_from_features(f1, f2) == pytest.approx(tfid.fid(f1, f2), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_kid_matches_torch_fidelity(tfid, dtype):
    g = torch.Generator().manual_seed(1)
    f1 = torch.randn(300, 32, generator=g).to(dtype)
    f2 = (torch.randn(250, 32, generator=g) * 1.1 + 0.2).to(dtype)
    ours = kid_from_features(f1, f2, subsets=15, subset_size=120, seed=5)
    ref = tfid.kid(f1, f2, kid_subsets=15, kid_subset_size=120, rng_seed=5, verbose=False)
    # float64 features: identical arithmetic; float32: torch-fidelity's kernels round in float32
    rel = 1e-9 if dtype == torch.float64 else 1e-4
    assert ours[0] == pytest.approx(ref["kernel_inception_distance_mean"], rel=rel)
    assert ours[1] == pytest.approx(ref["kernel_inception_distance_std"], rel=rel)


def test_inception_score_matches_torch_fidelity(tfid):
    logits = torch.randn(997, 12, generator=torch.Generator().manual_seed(2)) * 3
    for splits, seed in ((10, 2020), (7, 3)):
        ours = inception_score_from_logits(logits, splits, seed=seed)
        ref = tfid.isc(logits, splits, True, seed)
        assert ours[0] == pytest.approx(ref["inception_score_mean"], rel=1e-12)
        assert ours[1] == pytest.approx(ref["inception_score_std"], rel=1e-12)


@pytest.mark.slow
def test_inception_bridge_runs_torch_fidelity_network(tfid, tmp_path, monkeypatch):
    # A randomly initialised inception-v3-compat saved as a weights file: the real weights cannot
    # be downloaded here, but the bridge's path (file check, safe load, uint8 conversion, batching,
    # feature and logit layers) is the same.
    with monkeypatch.context() as m:
        m.setattr(torch, "load", lambda *a, **k: {})
        m.setattr(tfid.Inception, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        net = tfid.Inception("inception-v3-compat", ["2048", "logits_unbiased"],
                             feature_extractor_weights_path="unused")
    weights = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(net.state_dict(), weights)

    ext = get_extractor("inception", weights_path=weights, batch_size=2)
    images = torch.rand(3, 1, 20, 20, generator=torch.Generator().manual_seed(3)) * 2 - 1
    feats, logits = ext.extract(images)
    assert feats.shape == (3, 2048)
    assert logits is not None and logits.shape == (3, 1008)
    u8 = ((images + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
    with torch.no_grad():
        ref_feats, ref_logits = net.eval()(u8)
    torch.testing.assert_close(feats, ref_feats)
    torch.testing.assert_close(logits, ref_logits)
