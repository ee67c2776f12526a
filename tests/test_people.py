"""What a person sees: the progress bar and the wall-time estimate, the end-of-run table, the
method of each recipe, extractor provenance in evaluations and comparisons, the one-file report,
and mode metrics for a user's own tensors."""

from __future__ import annotations

import json
import re

import pytest

from stablegan import Trainer


def _bar_segments(err: str) -> list[str]:
    return [s.strip() for s in re.split(r"[\r\n]", err) if s.strip().startswith("train")]


# ----------------------------------------------------------------------------- progress, estimate
@pytest.mark.slow
def test_final_progress_line_is_printed_once_and_counts_to_the_budget(make_cfg, capsys):
    cfg = make_cfg("log.progress=true", steps=12)
    Trainer.from_config(cfg).fit()
    err = capsys.readouterr().err
    segments = _bar_segments(err)
    assert segments, err
    assert sum("12/12" in s for s in segments) == 1, segments
    assert not any("13it" in s or "13/12" in s for s in segments), segments


@pytest.mark.slow
def test_wall_time_estimate_is_one_line_on_stderr_only_with_progress(make_cfg, capsys):
    cfg = make_cfg("log.progress=true", steps=12)
    Trainer.from_config(cfg).fit()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "estimate:" in ln]
    assert len(lines) == 1, err
    assert re.search(r"estimate: about .+ for 12 iterations \(\d+ left\) at .+ (s/it|it/s)",
                     lines[0]), lines[0]
    Trainer.from_config(make_cfg(steps=12)).fit()  # log.progress=false: silent
    assert "estimate:" not in capsys.readouterr().err


def test_estimate_wording():
    from stablegan.training.console import format_duration, format_estimate

    assert format_duration(7800) == "2 h 10 min"
    assert format_duration(95) == "1 min 35 s"
    assert format_duration(12) == "12 s"
    line = format_estimate(3.9, 2000, 2000, 5)
    assert line.startswith("estimate: about 2 h 10 min for 2,000 iterations at 3.9 s/it")


@pytest.mark.slow
def test_estimate_changes_no_number(make_cfg):
    quiet = Trainer.from_config(make_cfg(steps=8)).fit()
    loud = Trainer.from_config(make_cfg("log.progress=true", steps=8)).fit()
    assert quiet == loud


# ----------------------------------------------------------------------------- end-of-run output
@pytest.mark.slow
def test_end_of_run_prints_a_short_table_not_a_json_line(tmp_path, capsys):
    from stablegan.cli import main

    out = tmp_path / "r"
    assert main(["train", "--recipe", "ring", "--steps", "3", "--out", str(out), "--quiet",
                 "--set", "log.tensorboard=false", "--set", "eval.n_samples=200"]) == 0
    printed = capsys.readouterr().out
    assert "{" not in printed  # no JSON for people; eval.json has it
    assert re.search(r"^metric\s+value\s+floor$", printed, re.M), printed
    assert re.search(r"^modes\s+\S+\s+8$", printed, re.M), printed
    saved = json.loads((out / "eval.json").read_text())
    assert "modes" in saved and "extractor" not in saved  # points: no feature extractor


def test_table_shows_kid_times_1000_with_its_unit_and_five_sentences():
    from stablegan.reports.table import result_table

    result = {"kid/classifier": 0.0123, "floor/kid/classifier": 0.0004, "fid/classifier": 3.5,
              "n_eval": 500, "samples": [f"sentence {i}" for i in range(10)]}
    text = result_table(result)
    assert re.search(r"^kid/classifier ×10³\s+12\.3\s+0\.4$", text, re.M), text
    assert re.search(r"^fid/classifier\s+3\.5$", text, re.M), text
    assert "sentence 4" in text and "sentence 5" not in text


def test_methods_lists_the_default_method_of_every_recipe(capsys):
    from stablegan.cli import main
    from stablegan.recipes import load_config, recipe_names

    assert main(["methods"]) == 0
    printed = capsys.readouterr().out
    assert "recipe -> default method" in printed
    for recipe in recipe_names():
        assert re.search(rf"^\s+{re.escape(recipe)}\s+{re.escape(load_config(recipe).method)}$",
                         printed, re.M), recipe


# ----------------------------------------------------------------------------- provenance
@pytest.fixture
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))


def _digits_eval(cfg, run_dir, n=200, final=True):
    from stablegan.data import build_data
    from stablegan.evaluation import evaluate
    from stablegan.tasks import task_for

    data = build_data(cfg.data, cfg.seed)
    return evaluate(lambda k: data.reals(k, "holdout") * 0.9, task_for(data, cfg), cfg.eval, n=n,
                    run_dir=run_dir, final=final)


@pytest.mark.slow
def test_classifier_numbers_carry_the_networks_hash_and_accuracy(tmp_path, _cache, monkeypatch,
                                                                  capsys):
    import hashlib

    import stablegan.classifier as sgc
    from stablegan.recipes import load_config

    monkeypatch.setattr(sgc, "AUTO_TRAIN_EPOCHS", 1)  # the on-the-fly classifier, quickly
    cfg = load_config("digits", None, ["log.progress=false", "eval.metrics=[fid,kid,class]"], 5)
    res = _digits_eval(cfg, tmp_path)
    err = capsys.readouterr().err
    # a line *before* the (possibly long) training, not only the one after it
    assert re.search(r"training a domain classifier for 'digits' \(\d[\d,]* labelled items", err)
    prov = res["feature_extractors"]["classifier"]
    pinned = tmp_path / "classifier.pt"
    assert prov["sha256"] == hashlib.sha256(pinned.read_bytes()).hexdigest()[:12]
    assert prov["test_accuracy"] == json.loads(pinned.with_suffix(".json").read_text())[
        "test_accuracy"]
    periodic = _digits_eval(cfg, tmp_path, final=False)  # evals.jsonl rows carry it too
    assert periodic["feature_extractors"] == res["feature_extractors"]
    assert "extractor" not in periodic


def _fake_compare(tmp_path, shas):
    from stablegan.compare import plan_runs

    plans = plan_runs("ring", ["wgan-gp"], list(range(len(shas))), 4, None, [])
    for p, sha in zip(plans, shas):
        run = tmp_path / p["dir"]
        run.mkdir(parents=True)
        (run / "eval.json").write_text(json.dumps({
            "fid/classifier": 100.0 + len(sha), "n_eval": 10,
            "feature_extractors": {"classifier": {"sha256": sha, "test_accuracy": 0.9}}}))
    return plans


def test_compare_refuses_numbers_from_different_classifiers(tmp_path):
    from stablegan.compare import summarise
    from stablegan.errors import StableganError
    from stablegan.reports import write_compare_report

    plans = _fake_compare(tmp_path / "same", ["aaaa", "aaaa"])
    summary = summarise(tmp_path / "same", "ring", plans)
    assert summary["feature_extractors"]["wgan-gp/seed0"]["classifier"]["sha256"] == "aaaa"
    write_compare_report(tmp_path / "same")

    plans = _fake_compare(tmp_path / "mixed", ["aaaa", "bbbb"])
    with pytest.raises(StableganError, match="different 'classifier' networks"):
        summarise(tmp_path / "mixed", "ring", plans)
    saved = json.loads((tmp_path / "mixed" / "summary.json").read_text())
    assert "refused" in saved and not (tmp_path / "mixed" / "summary.md").exists()
    with pytest.raises(StableganError, match="not comparable"):
        write_compare_report(tmp_path / "mixed")


# ----------------------------------------------------------------------------- the report
@pytest.mark.slow
def test_report_is_one_html_file_with_embedded_images(make_cfg, tmp_path):
    from stablegan.reports import write_report

    run = tmp_path / "run"
    Trainer.from_config(make_cfg(steps=4), out_dir=run).fit()
    index = write_report(run)
    assert [p.name for p in index.parent.iterdir()] == ["index.html"]
    page = index.read_text()
    srcs = re.findall(r'<img src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_report_shows_only_the_diagnostics_that_apply():
    from stablegan.reports.html import _diagnostic_groups

    rows = [{"step": i, "critic/wasserstein_estimate": 0.1 * i, "critic/d_real": 0.5,
             "lr/g": 2e-4, "lr/d": 2e-4 * (1 - i / 10), "grad/d_fake_norm": 1.0}
            for i in range(1, 6)]

    def keys(cfg):
        return {k for _, ks in _diagnostic_groups(rows, cfg) for k in ks}

    nsgan = keys({"method": "nsgan", "objective": {"loss": "nonsaturating"}})
    assert "critic/wasserstein_estimate" not in nsgan and "critic/d_real" in nsgan
    assert "lr/g" not in nsgan  # constant: a flat panel says nothing
    assert "lr/d" in nsgan  # decaying: shown
    assert "critic/wasserstein_estimate" in keys({"objective": {"loss": "wasserstein"}})


# ----------------------------------------------------------------------------- own data
def test_tensor_source_gives_mode_coverage_and_class_counts(user_modules):
    import torch

    from stablegan.data import TensorSource
    from stablegan.errors import DataError

    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]])
    labels = torch.randint(0, 3, (600,), generator=torch.Generator().manual_seed(0))
    x = centres[labels] + 0.05 * torch.randn(600, 2)
    src = TensorSource(x, modes=centres, mode_std=0.05, labels=labels)
    assert src.num_classes == 3 and src.labelled(10)[1].dtype == torch.int64
    cfg = {"steps": 2, "data": {"batch_size": 32}, "log": {"progress": False},
           "eval": {"n_samples": 300}}
    gen_cls, disc_cls = user_modules
    result = Trainer(gen_cls(), disc_cls(), src, cfg).fit()
    assert result["floor/modes"] == 3 and "modes" in result and "reverse_kl" in result
    with pytest.raises(DataError, match="mode_std"):
        TensorSource(x, modes=centres)
    with pytest.raises(DataError, match=r"shape \(K, 2\)"):
        TensorSource(x, modes=torch.zeros(3, 5), mode_std=0.1)


# ----------------------------------------------------------------------------- image recipes
def test_cpu_sized_image_recipes_and_their_cost_in_the_readme():
    from pathlib import Path

    from stablegan.recipes import load_config, recipe_names

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for small, full in (("mnist-cpu", "mnist"), ("cifar10-cpu", "cifar10-dcgan")):
        assert small in recipe_names()
        a, b = load_config(small), load_config(full)
        assert a.data.name == b.data.name and a.model.channels < b.model.channels
        assert a.steps * a.data.batch_size < b.steps * b.data.batch_size
    for recipe in ("digits", "mnist-cpu", "cifar10-cpu", "mnist", "cifar10-dcgan",
                   "cifar10-resnet"):
        row = re.search(rf"^\| `{re.escape(recipe)}` \| (\S+) \| ([\d.]+) \|", readme, re.M)
        assert row, f"README gives no cost for {recipe}"
        assert row.group(1) == load_config(recipe).method
