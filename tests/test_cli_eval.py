"""The command line around evaluation: ``stablegan classifier train``, ``stablegan eval`` with the
classifier extractor on a tiny digits run, exit code 2 with clear messages for bad input, and
periodic evaluation with best.pt and early stopping end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from stablegan.cli import main
from stablegan.metrics import load_domain_classifier, save_domain_classifier

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

TINY_DIGITS = ["data.batch_size=32", "model.channels=4", "model.latent_dim=8",
               "log.tensorboard=false", "log.every=1", "eval.n_samples=120"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))


def _sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def _train(out: Path, steps: int, *extra: str) -> int:
    return main(["train", "--recipe", "digits", "--steps", str(steps), "--out", str(out),
                 "--quiet", *_sets([*TINY_DIGITS, *extra])])


def _edit_eval(run: Path, **values: object) -> None:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["eval"].update(values)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clf") / "digits.pt"
    assert main(["classifier", "train", "--recipe", "digits", "--epochs", "2",
                 "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory, classifier) -> Path:
    out = tmp_path_factory.mktemp("cli_eval") / "run"
    assert _train(out, 6, f"eval.classifier_path={classifier}") == 0
    return out


@pytest.mark.slow
def test_classifier_verb_trains_and_saves(tmp_path, capsys, monkeypatch):
    assert main(["classifier", "train", "--recipe", "digits", "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    info = _last_json(captured.out)
    path = tmp_path / "cache" / "classifiers" / "digits.pt"  # the default: the cache
    assert info["path"] == str(path) and path.is_file()
    assert 0.0 < info["test_accuracy"] <= 1.0 and info["epochs"] == 1
    assert json.loads(path.with_suffix(".json").read_text())["test_accuracy"] == \
        info["test_accuracy"]
    assert load_domain_classifier(path).input_shape == (1, 8, 8)
    assert "test accuracy" in captured.err


def test_classifier_verb_rejects_unlabelled_data(capsys):
    assert main(["classifier", "train", "--recipe", "ring", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "error: data 'ring' has no labels" in err and "hint:" in err


@pytest.mark.slow
def test_eval_with_the_classifier_extractor(run, classifier, capsys):
    final = json.loads((run / "eval.json").read_text())  # written by train
    assert final["extractor"] == "classifier" and "fid/classifier" in final
    assert (run / "nearest_pairs.png").is_file()
    capsys.readouterr()
    assert main(["eval", "--run", str(run)]) == 0
    res = _last_json(capsys.readouterr().out)
    assert res["step"] == 6 and res["extractor"] == "classifier"
    for key in ("fid/classifier", "kid/classifier", "precision/classifier", "recall/classifier",
                "density/classifier", "coverage/classifier", "class_coverage/classifier",
                "class_kl/classifier", "memorisation/classifier", "swd/pixels"):
        assert math.isfinite(res[key]) and math.isfinite(res[f"floor/{key}"]), key
    assert res["fid/classifier"] == pytest.approx(final["fid/classifier"])  # same seed, same net
    assert json.loads((run / "eval.json").read_text()) == res


@pytest.mark.slow
def test_eval_too_few_samples_exits_2(run, capsys):
    assert main(["eval", "--run", str(run), "--n", "3"]) == 2
    err = capsys.readouterr().err
    assert "too few for metric 'is': at least 10 are needed" in err and "--n 10" in err


@pytest.mark.slow
def test_eval_missing_inception_weights_exits_2(run, tmp_path, capsys):
    bad = tmp_path / "run"
    import shutil

    shutil.copytree(run, bad)
    _edit_eval(bad, extractor="inception", inception_weights=str(tmp_path / "nope.pth"))
    assert main(["eval", "--run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "weights-inception-2015-12-05-6726825d.pth" in err and str(tmp_path / "nope.pth") in err
    assert "eval.extractor=classifier" in err and "stablegan classifier train" in err


@pytest.mark.slow
def test_eval_nan_features_exits_2(run, classifier, tmp_path, capsys):
    import shutil

    bad = tmp_path / "run"
    shutil.copytree(run, bad)
    model = load_domain_classifier(classifier)
    with torch.no_grad():
        for p in model.body.parameters():
            p.fill_(math.nan)
    broken = save_domain_classifier(model, tmp_path / "nan.pt")
    _edit_eval(bad, classifier_path=str(broken))
    assert main(["eval", "--run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "'classifier' features of the generated samples contain" in err
    assert str(broken) in err


@pytest.mark.slow
def test_eval_mismatched_channels_exits_2(tmp_path, capsys):
    data = tmp_path / "x.pt"
    torch.save(torch.rand(64, 1, 8, 8) * 2 - 1, data)
    run = tmp_path / "run"
    assert main(["train", "--recipe", "digits", "--steps", "2", "--out", str(run), "--quiet",
                 *_sets([*TINY_DIGITS, "data.name=tensor", f"data.path={data}",
                         "data.batch_size=16", "eval.n_samples=40"])]) == 0
    capsys.readouterr()
    torch.save(torch.rand(64, 3, 8, 8) * 2 - 1, data)  # the data now has 3 channels
    assert main(["eval", "--run", str(run)]) == 2
    err = capsys.readouterr().err
    # the checkpoint records the data's shape, so loading the run says what changed
    assert err.startswith("error:") and "trained on data of shape (1, 8, 8)" in err
    assert "now has shape (3, 8, 8)" in err
    assert "hint:" in err and "Traceback" not in err


@pytest.mark.slow
def test_eval_classifier_for_other_images_exits_2(run, tmp_path, capsys):
    import shutil

    from stablegan.metrics import train_domain_classifier

    bad = tmp_path / "run"
    shutil.copytree(run, bad)
    x, y = torch.rand(40, 3, 8, 8), torch.arange(40) % 2
    model, _ = train_domain_classifier(x, y, 2, epochs=1)
    _edit_eval(bad, classifier_path=str(save_domain_classifier(model, tmp_path / "rgb.pt")))
    assert main(["eval", "--run", str(bad)]) == 2
    assert "trained on samples of shape (3, 8, 8)" in capsys.readouterr().err


@pytest.mark.slow
def test_periodic_eval_keeps_best_and_stops_early(tmp_path, classifier, capsys):
    # floor/fid/classifier is the same at every evaluation: it never improves after the first,
    # so patience 2 stops training at the third evaluation (step 6 of 40)
    out = tmp_path / "stop"
    assert _train(out, 40, f"eval.classifier_path={classifier}", "eval.every=2",
                  "eval.best_metric=floor/fid/classifier", "eval.patience=2") == 0
    assert "early stopping at step 6" in capsys.readouterr().err
    evals = [json.loads(line) for line in (out / "evals.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [2, 4, 6]
    assert all("fid/classifier" in e and "floor/fid/classifier" in e for e in evals)
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["step"] == 6
    assert (out / "checkpoints" / "best.pt").is_file() and (out / "eval.json").is_file()
    # best.pt is the checkpoint of the first evaluation
    assert main(["eval", "--run", str(out), "--checkpoint", "best.pt"]) == 0
    assert _last_json(capsys.readouterr().out)["step"] == 2


@pytest.mark.slow
def test_best_checkpoint_is_the_best_evaluation(tmp_path, classifier, capsys):
    out = tmp_path / "best"
    assert _train(out, 8, f"eval.classifier_path={classifier}", "eval.every=2",
                  "eval.best_metric=fid/classifier") == 0
    evals = [json.loads(line) for line in (out / "evals.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [2, 4, 6]
    best = min(evals, key=lambda e: e["fid/classifier"])
    capsys.readouterr()
    assert main(["eval", "--run", str(out), "--checkpoint", "best.pt"]) == 0
    res = _last_json(capsys.readouterr().out)
    assert res["step"] == best["step"]
    assert res["fid/classifier"] == pytest.approx(best["fid/classifier"])


@pytest.mark.slow
def test_eval_set_accepts_only_eval_keys(tmp_path, capsys):
    from stablegan.cli import main

    run = tmp_path / "run"
    assert main(["train", "--recipe", "ring", "--steps", "2", "--out", str(run), "--quiet",
                 "--set", "model.hidden=8", "--set", "eval.n_samples=100"]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--set", "eval.n_samples=50"]) == 0
    out = capsys.readouterr().out
    assert '"n_eval": 50' in out
    assert main(["eval", "--run", str(run), "--set", "model.hidden=16"]) == 2
    assert "only eval.* keys" in capsys.readouterr().err



@pytest.mark.slow
def test_bad_eval_settings_fail_before_training(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--recipe", "digits", "--steps", "2", "--out", str(run), "--quiet",
                 *_sets([*TINY_DIGITS, "eval.metrics=modes"])]) == 2
    err = capsys.readouterr().err
    assert "eval.metrics asks for 'modes'" in err
    assert not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text()


@pytest.mark.parametrize("extra, message", [
    (["eval.best_metric=fid/clasifier"],
     "'eval.best_metric' names 'fid/clasifier'"),
    (["eval.extractor=inception", "eval.inception_weights=/nonexistent/w.pth"],
     "Inception-v3 weights not found"),
])
def test_bad_best_metric_or_missing_weights_fail_before_training(tmp_path, capsys, extra,
                                                                 message):
    run = tmp_path / "run"
    assert _train(run, 2, *extra) == 2
    err = capsys.readouterr().err
    assert message in err
    if "best_metric" in message:
        assert "did you mean 'fid/classifier'?" in err
    assert not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text()
    assert not (run / "checkpoints" / "last.pt").exists()


@pytest.mark.slow
def test_possible_keys_cover_what_evaluations_produce(run, tmp_path):
    """The pre-flight key set is a superset of the keys real evaluations write (so a valid
    best_metric is never refused), for images with the classifier and for toy points."""
    from stablegan.data import build_data
    from stablegan.evaluation import possible_keys
    from stablegan.recipes import load_config
    from stablegan.tasks import task_for

    def numeric(result: dict) -> set[str]:
        return {k.removeprefix("floor/") for k, v in result.items()
                if isinstance(v, (int, float)) and k not in ("step", "batches", "n_eval")}

    for run_dir in (run, tmp_path / "ring"):
        if run_dir.name == "ring":
            assert main(["train", "--recipe", "ring", "--steps", "2", "--out", str(run_dir),
                         "--quiet", "--set", "model.hidden=8", "--set",
                         "eval.n_samples=100"]) == 0
        cfg = load_config(config_file=run_dir / "config.yaml")
        produced = numeric(json.loads((run_dir / "eval.json").read_text()))
        assert produced and produced <= possible_keys(task_for(build_data(cfg.data, seed=0), cfg),
                                                        cfg.eval)
