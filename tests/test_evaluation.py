"""stablegan.evaluation: default metric sets for toys and images, extractor names in every key,
real-vs-real floors, the domain classifier's discovery / caching / on-the-fly training, and the
messages for bad input (too few samples, mismatched shapes, missing Inception weights, NaN)."""

from __future__ import annotations

import json
import math
import urllib.error
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import stablegan.classifier as sgc
from stablegan.classifier import classifier_key, default_classifier_path, train_classifier
from stablegan.data import build_data
from stablegan.errors import ConfigError, DataError, ShapeError
from stablegan.evaluation import evaluate
from stablegan.metrics import load_domain_classifier, save_domain_classifier
from stablegan.recipes import load_config
from stablegan.tasks import task_for
from stablegan.tasks.extractors import choose_extractor

BASE = ["log.progress=false", "log.tensorboard=false"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never read or write the user's ~/.cache in tests."""
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory) -> Path:
    """A 2-epoch domain classifier for digits (about a second)."""
    out = tmp_path_factory.mktemp("clf") / "digits.pt"
    cfg = load_config("digits", None, BASE)
    info = train_classifier(cfg, epochs=2, out=out)
    assert Path(info["path"]) == out and out.is_file()
    assert 0.5 < info["test_accuracy"] <= 1.0
    return out


def fake_trainer(cfg, sample, out_dir=None, step=None):
    """A generator stand-in ``sample(data, n)`` on the config's data, at step ``step``: the
    evaluation is final at the end of training or between periodic evaluations."""
    data = build_data(cfg.data, cfg.seed)
    step = cfg.steps if step is None else step
    final = step >= cfg.steps or not (cfg.eval.every and step % cfg.eval.every == 0)
    return SimpleNamespace(cfg=cfg, task=task_for(data, cfg), sample=lambda n: sample(data, n),
                           out_dir=out_dir, final=final)


def evaluate_generator(ft, n):
    """``stablegan.evaluation.evaluate`` of a :func:`fake_trainer`."""
    return evaluate(ft.sample, ft.task, ft.cfg.eval, n=n, run_dir=ft.out_dir, final=ft.final)


def noisy_reals(data, n):
    """Held-out reals plus noise: a plausible but imperfect generator."""
    x = data.reals(n, "holdout")
    x = torch.cat([x] * (n // len(x) + 1))[:n]
    return (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)


def numeric(res):
    return {k: v for k, v in res.items() if isinstance(v, (int, float))}


def assert_floors(res):
    for key in numeric(res):
        if key == "n_eval" or key.startswith("floor/") or key.startswith(
                ("num_classes/", "memorisation_threshold/")):
            continue
        assert f"floor/{key}" in res, f"no floor for {key}"


# --------------------------------------------------------------------------------------- toys
def test_toy_default_set_has_mode_metrics_swd_and_floors():
    cfg = load_config("ring", None, [*BASE, "eval.n_samples=500"], 5)
    modes = build_data(cfg.data, 0).modes
    # a generator on 4 of the 8 modes
    t = fake_trainer(cfg, lambda d, n: modes[torch.arange(n) % 4] + 0.01 * torch.randn(n, 2))
    res = evaluate_generator(t, 500)
    assert res["modes"] == 4 and res["floor/modes"] == 8
    assert res["reverse_kl"] == pytest.approx(math.log(2), abs=0.01)
    assert res["floor/swd"] < res["swd"]
    assert res["n_eval"] == 500 and "extractor" not in res  # points: their own coordinates
    assert_floors(res)


def test_toy_extra_metrics_are_named_by_their_space():
    cfg = load_config("ring", None, [*BASE, "eval.metrics=[prdc,swd]"], 5)
    t = fake_trainer(cfg, lambda d, n: d.reals(n, "holdout") * 0.5)
    res = evaluate_generator(t, 200)
    assert {"precision/pixels", "coverage/pixels", "swd", "floor/recall/pixels"} <= set(res)
    assert "modes" not in res


# -------------------------------------------------------------------------------- images
@pytest.mark.slow
def test_images_with_the_classifier(tmp_path, digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}"], 5)
    t = fake_trainer(cfg, noisy_reals, out_dir=tmp_path)
    res = evaluate_generator(t, 300)
    expected = {"swd/pixels", "fid/classifier", "kid/classifier", "is/classifier",
                "precision/classifier", "recall/classifier", "density/classifier",
                "coverage/classifier", "swd/classifier", "class_coverage/classifier",
                "class_kl/classifier", "memorisation/classifier", "nn_distance/classifier"}
    assert expected <= set(res)
    assert not any(k.endswith("/pixels") and k not in ("swd/pixels", "floor/swd/pixels")
                   for k in res)
    assert_floors(res)
    assert res["extractor"] == "classifier" and res["classifier"] == str(digits_classifier)
    assert res["n_eval"] == 300
    assert res["fid/classifier"] > res["floor/fid/classifier"] >= 0
    assert res["floor/class_coverage/classifier"] == 10
    assert 0 <= res["floor/memorisation/classifier"] < 0.2  # ~1% by construction
    assert (tmp_path / "nearest_pairs.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_halves_shrink_to_the_data_and_say_so(digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}",
                                       "eval.metrics=[fid]"], 5)
    res = evaluate_generator(fake_trainer(cfg, noisy_reals), 5000)
    assert res["n_eval"] == 1618 // 2
    assert "two disjoint halves" in res["notes"]
    assert set(numeric(res)) == {"swd/pixels", "floor/swd/pixels", "fid/classifier",
                                 "floor/fid/classifier", "n_eval"}


@pytest.mark.slow
def test_periodic_eval_has_no_strings_and_no_png(tmp_path, digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}",
                                       "eval.every=5"], 20)
    res = evaluate_generator(fake_trainer(cfg, noisy_reals, out_dir=tmp_path, step=10), 100)
    prov = res.pop("feature_extractors")  # which network made the numbers: in every evals row
    assert set(prov) == {"classifier"} and len(prov["classifier"]["sha256"]) == 12
    assert all(isinstance(v, (int, float)) for v in res.values())
    assert "n_eval" not in res and "num_classes/classifier" not in res
    assert not (tmp_path / "nearest_pairs.png").exists()


def test_explicit_metric_list(digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}",
                                       "eval.metrics=[kid,class]", "eval.k=3"], 5)
    res = evaluate_generator(fake_trainer(cfg, noisy_reals), 100)
    assert set(numeric(res)) == {
        "swd/pixels", "kid/classifier", "kid_std/classifier", "class_coverage/classifier",
        "num_classes/classifier", "class_kl/classifier", "n_eval", "floor/swd/pixels",
        "floor/kid/classifier", "floor/kid_std/classifier", "floor/class_coverage/classifier",
        "floor/class_kl/classifier"}


def test_class_metrics_use_the_classifier_in_pixel_space(digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}",
                                       "eval.extractor=pixels"], 5)
    res = evaluate_generator(fake_trainer(cfg, noisy_reals), 100)
    assert {"fid/pixels", "precision/pixels", "memorisation/pixels",
            "class_coverage/classifier"} <= set(res)
    assert "is/pixels" not in res and "swd/classifier" not in res


@pytest.mark.slow
def test_auto_trains_caches_and_pins_a_classifier(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sgc, "AUTO_TRAIN_EPOCHS", 1)
    cfg = load_config("digits", None, BASE, 5)
    run = tmp_path / "run"
    run.mkdir()
    res = evaluate_generator(fake_trainer(cfg, noisy_reals, out_dir=run), 100)
    cached = default_classifier_path(cfg.data)
    assert cached == tmp_path / "cache" / "classifiers" / "digits.pt" and cached.is_file()
    assert json.loads(cached.with_suffix(".json").read_text())["epochs"] == 1
    assert (run / "classifier.pt").is_file() and res["classifier"] == str(run / "classifier.pt")
    assert "fid/classifier" in res and "on the fly" in res["notes"]
    assert "trained a domain classifier" in capsys.readouterr().err
    # the next evaluation uses the pinned copy and trains nothing
    monkeypatch.setattr(sgc, "train_classifier", lambda *a, **k: pytest.fail("retrained"))
    again = evaluate_generator(fake_trainer(cfg, noisy_reals, out_dir=run), 100)
    assert again["fid/classifier"] == res["fid/classifier"]


def test_unlabelled_images_fall_back_to_pixels_with_a_hint(tmp_path, image_tensor_file):
    cfg = load_config("digits", None, [*BASE, "data.name=tensor", "data.batch_size=16",
                                       f"data.path={image_tensor_file}"], 5)
    res = evaluate_generator(fake_trainer(cfg, lambda d, n: d.reals(n) * 0.9), 64)
    assert res["extractor"] == "pixels" and res["n_eval"] == 29  # 58 training items / 2
    assert {"fid/pixels", "kid/pixels", "precision/pixels", "memorisation/pixels"} <= set(res)
    assert not any("class" in k or k.startswith("is/") for k in res)
    assert "stablegan classifier train" in res["notes"]


def test_classifier_key_and_cache_path(tmp_path, image_tensor_file):
    cfg = load_config("digits", None, BASE)
    assert classifier_key(cfg.data) == "digits"
    cfg.data.max_items = 100
    assert classifier_key(cfg.data) == "digits-n100"
    tensor = load_config("digits", None, ["data.name=tensor", f"data.path={image_tensor_file}"])
    key = classifier_key(tensor.data)
    assert key.startswith("tensor-") and len(key) == len("tensor-") + 10
    assert default_classifier_path(cfg.data).parent == tmp_path / "cache" / "classifiers"
    # data read from disk: a small test copy of MNIST never shares the real one's classifier
    a = load_config("mnist", None, ["data.path=/data/mnist"])
    b = load_config("mnist", None, [f"data.path={tmp_path}"])
    assert classifier_key(a.data).startswith("mnist-")
    assert classifier_key(a.data) != classifier_key(b.data)


def test_cached_classifier_for_other_data_is_ignored(tmp_path, digits_classifier, monkeypatch):
    monkeypatch.setattr(sgc, "AUTO_TRAIN_MAX_ITEMS", 10)  # no training on the fly
    cfg = load_config("digits", None, BASE, 5)
    cached = default_classifier_path(cfg.data)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(digits_classifier.read_bytes())
    cached.with_suffix(".json").write_text(json.dumps({"data": "mnist",
                                                       "sample_shape": [1, 28, 28]}))
    res = evaluate_generator(fake_trainer(cfg, noisy_reals), 100)
    assert res["extractor"] == "pixels"
    assert f"ignored {cached}" in res["notes"]


def test_tiny_labelled_data_gets_no_classifier_on_the_fly(tmp_path):
    torch.save({"x": torch.rand(60, 1, 8, 8) * 2 - 1, "y": torch.arange(60) % 3},
               tmp_path / "tiny.pt")
    cfg = load_config("digits", None, [*BASE, "data.name=tensor", "data.batch_size=16",
                                       f"data.path={tmp_path / 'tiny.pt'}"], 5)
    res = evaluate_generator(fake_trainer(cfg, lambda d, n: d.reals(n)), 50)
    assert res["extractor"] == "pixels" and not (tmp_path / "cache").exists()


# ------------------------------------------------------------------------------ bad input
def test_too_few_samples_names_the_minimum_and_why(digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}"], 5)
    with pytest.raises(DataError) as err:  # the default set: IS needs the most
        evaluate_generator(fake_trainer(cfg, noisy_reals), 4)
    assert "metric 'is': at least 10 are needed (IS averages over 10 splits" in err.value.message
    cfg.eval.metrics = ["prdc", "fid"]
    with pytest.raises(DataError) as err:
        evaluate_generator(fake_trainer(cfg, noisy_reals), 4)
    text = f"{err.value.message} {err.value.hint}"
    assert "'precision': at least 6" in text and "eval.k=5" in text and "--n 6" in text


def test_too_small_data_for_the_floor_halves(tmp_path):
    x = torch.rand(12, 1, 8, 8) * 2 - 1
    torch.save(x, tmp_path / "few.pt")
    cfg = load_config("digits", None, [*BASE, "data.name=tensor", "data.batch_size=4",
                                       f"data.path={tmp_path / 'few.pt'}"], 5)
    with pytest.raises(DataError, match="two halves of 5, fewer than the 6 samples"):
        evaluate_generator(fake_trainer(cfg, lambda d, n: torch.zeros(n, 1, 8, 8)), 100)


def test_mismatched_channels_and_sizes(digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}"], 5)
    with pytest.raises(ShapeError, match=r"3 channel\(s\) instead of 1"):
        evaluate_generator(fake_trainer(cfg, lambda d, n: torch.zeros(n, 3, 8, 8)), 50)
    with pytest.raises(ShapeError, match="16x16 pixels instead of 8x8"):
        evaluate_generator(fake_trainer(cfg, lambda d, n: torch.zeros(n, 1, 16, 16)), 50)


def test_nan_samples_and_nan_features(tmp_path, digits_classifier):
    cfg = load_config("digits", None, [*BASE, f"eval.classifier_path={digits_classifier}"], 5)
    with pytest.raises(DataError, match="generator produced 3200 NaN/inf value.s. in 50"):
        evaluate_generator(fake_trainer(cfg, lambda d, n: torch.full((n, 1, 8, 8), math.nan)),
                           50)
    model = load_domain_classifier(digits_classifier)
    with torch.no_grad():
        model.head.weight.fill_(math.nan)
    broken = save_domain_classifier(model, tmp_path / "broken.pt")
    cfg.eval.classifier_path = str(broken)
    with pytest.raises(DataError) as err:
        evaluate_generator(fake_trainer(cfg, noisy_reals), 50)
    assert "'classifier' logits of the generated samples contain" in err.value.message
    assert str(broken) in err.value.hint and "stablegan classifier train" in err.value.hint


def test_classifier_requested_but_none_available(image_tensor_file):
    cfg = load_config("digits", None, [*BASE, "data.name=tensor", "eval.extractor=classifier",
                                       "data.batch_size=16",
                                       f"data.path={image_tensor_file}"], 5)
    with pytest.raises(ConfigError) as err:
        evaluate_generator(fake_trainer(cfg, lambda d, n: d.reals(n)), 32)
    assert "no labels" in err.value.message
    assert "stablegan classifier train --config" in err.value.hint
    cfg.eval.classifier_path = "/nonexistent/clf.pt"
    with pytest.raises(ConfigError, match="not found: /nonexistent/clf.pt"):
        evaluate_generator(fake_trainer(cfg, lambda d, n: d.reals(n)), 32)


def test_missing_inception_weights_say_which_file_where_and_what_instead(tmp_path, monkeypatch):
    cfg = load_config("digits", None, [*BASE, "eval.extractor=inception",
                                       f"eval.inception_weights={tmp_path / 'w.pth'}"], 5)
    data = build_data(cfg.data, 0)
    with pytest.raises(DataError) as err:
        choose_extractor(cfg, data)
    text = f"{err.value.message} {err.value.hint}"
    assert "weights-inception-2015-12-05-6726825d.pth" in text and str(tmp_path / "w.pth") in text
    assert "eval.extractor=classifier" in text and "https://" in text
    # no path given, empty cache, offline
    cfg.eval.inception_weights = None
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(DataError) as err:
        choose_extractor(cfg, data)
    assert "could not be downloaded (URLError)" in err.value.message
    assert str(tmp_path / "hub" / "checkpoints") in err.value.message
    assert "stablegan classifier train" in err.value.hint
    # auto never needs the network: no classifier, no weights on disk -> pixels with a note
    cfg.eval.extractor = "auto"
    cfg.data.max_items = None
    monkeypatch.setattr(sgc, "AUTO_TRAIN_MAX_ITEMS", 10)  # too big to train on the fly
    notes: list[str] = []
    ext, _ = choose_extractor(cfg, data, notes=notes)
    assert ext.name == "pixels" and "stablegan classifier train --recipe digits" in notes[-1]


@pytest.mark.parametrize("item, message", [
    ("eval.metrics=[fidd]", "did you mean 'fid'"),
    ("eval.extractor=clasifier", "did you mean 'classifier'"),
    ("eval.k=0", "eval.k"),
])
def test_config_validation(item, message):
    with pytest.raises(ConfigError) as err:
        load_config("digits", None, [item])
    assert message in f"{err.value.message} {err.value.hint}"


def test_toy_memorisation_floor_is_fresh_data():
    cfg = load_config("ring", None, [*BASE, "eval.metrics=[memorisation,modes]"], 5)
    res = evaluate_generator(fake_trainer(cfg, lambda d, n: d.reals(n, "train")), 300)
    assert res["memorisation/pixels"] == 1.0  # copies of the reference set
    assert res["floor/memorisation/pixels"] < 0.1  # new samples of the data are not copies
    cfg = load_config("digits", None, [*BASE, "eval.metrics=[modes]"], 5)
    with pytest.raises(ConfigError, match="holds images"):
        evaluate_generator(fake_trainer(cfg, noisy_reals), 50)
