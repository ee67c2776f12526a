"""Text as a task: oracle training through MLE pre-training and the adversarial phase, RSGAN,
the exact ratio on sentences, text metrics on hand-made samples, and resume across phases."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from stablegan import Trainer
from stablegan.configure import from_dict
from stablegan.data import build_data
from stablegan.metrics.registry import Context, Side, get_metric
from stablegan.objectives import Objective
from stablegan.recipes import load_config
from stablegan.tasks import TextTask, task_for

TINY = ["data.oracle_train=256", "data.oracle_test=128", "data.max_len=6", "data.batch_size=16",
        "model.head_size=8", "model.num_rep=4", "model.d_embed_dim=8", "model.d_filters=8",
        "model.embed_dim=8", "eval.n_samples=40", "log.progress=false",
        "log.tensorboard=false", "log.every=1"]


@pytest.fixture()
def oracle_cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEGAN_CACHE_DIR", str(tmp_path / "cache"))

    def make(*extra: str, steps: int = 3):
        return load_config("oracle", overrides=[*TINY, *extra], steps=steps)

    return make


def test_rsgan_losses_match_their_closed_form():
    r = torch.tensor([1.0, -0.5, 2.0])
    f = torch.tensor([0.5, 0.5, -1.0])
    obj = Objective("rsgan")
    assert obj.d_loss(r, f).item() == pytest.approx(
        sum(math.log1p(math.exp(-(a - b))) for a, b in zip(r.tolist(), f.tolist())) / 3)
    assert obj.g_loss(f, r).item() == pytest.approx(
        sum(math.log1p(math.exp(-(b - a))) for a, b in zip(r.tolist(), f.tolist())) / 3)
    # K scores per sample: the mean over all B * K scores, weights per sample
    r2, f2 = torch.randn(4, 3), torch.randn(4, 3)
    w = torch.tensor([0.5, 1.5, 1.0, 1.0])
    want = (w[:, None] * F.softplus(-(r2 - f2))).mean()
    assert torch.allclose(obj.d_loss(r2, f2, w), want)


@pytest.mark.slow
def test_oracle_trains_through_pretraining_and_adversarial_phases(oracle_cfg, tmp_path):
    cfg = oracle_cfg("pretrain.steps=4", steps=3)
    t = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    assert isinstance(t.task, TextTask)
    assert [p.name for p in t.method.phases(3)] == ["pretrain", "adversarial"]
    result = t.fit()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    pre = [r for r in rows if r.get("phase") == "pretrain"]
    assert [r["step"] for r in pre] == [1, 2, 3, 4] and "loss/g" in pre[0]
    assert [r["step"] for r in rows if "phase" not in r] == [1, 2, 3]
    # every default text metric, with floors where a floor is defined
    for key in ("nll_oracle", "bleu2", "bleu5", "self_bleu2", "nll_gen", "unique_2grams",
                "floor/bleu2", "floor/nll_oracle"):
        assert key in result, key
    # the oracle's NLL of its own test sentences is the floor, far below uniform tokens
    assert result["floor/nll_oracle"] < math.log(5000) < result["nll_oracle"] + 3
    text = (tmp_path / "run" / "samples" / "step_000003.txt").read_text().splitlines()
    assert len(text) == t.task.n_display and all(w.startswith("w") for w in text[0].split())


@pytest.mark.slow
def test_resume_inside_pretraining_continues_the_same_trajectory(oracle_cfg, tmp_path):
    whole = Trainer.from_config(oracle_cfg("pretrain.steps=6", steps=2), out_dir=tmp_path / "a")
    whole.fit()
    part = Trainer.from_config(oracle_cfg("pretrain.steps=6", steps=2), out_dir=tmp_path / "b")
    calls = []
    original = part.method.pretrain_step

    def stop_at_four(index, diagnostics=False):
        if index == 4 and not calls:
            calls.append(index)
            raise KeyboardInterrupt
        return original(index, diagnostics)

    part.method.pretrain_step = stop_at_four  # the phase list is built at fit time
    with pytest.raises(KeyboardInterrupt):
        part.fit()
    again = Trainer.from_config(oracle_cfg("pretrain.steps=6", steps=2), out_dir=tmp_path / "b")
    again.resume()
    assert again.phase_steps.get("pretrain", 0) < 6  # resumed inside the pre-training phase
    again.fit()
    for k, net in whole.method.networks.items():
        for (n1, a), (_, b) in zip(net.state_dict().items(),
                                   again.method.networks[k].state_dict().items()):
            assert torch.equal(a, b), f"{k}.{n1}"


@pytest.mark.slow
def test_exact_ratio_ppo_on_sentences(oracle_cfg):
    cfg = oracle_cfg("method=ppo-gan", "variational.ratio=exact",
                     "variational.advantage=centered", "schedule.n_gen=2", steps=2)
    t = Trainer.from_config(cfg)
    stats = t.method.iteration(0, diagnostics=True)
    assert "ratio/clip_fraction" in stats and math.isfinite(stats["loss/g"])
    assert "C" not in t.method.networks  # the exact ratio needs no classifier


@pytest.mark.slow
def test_classifier_ratio_ppo_on_sentences(oracle_cfg):
    t = Trainer.from_config(oracle_cfg("method=ppo-gan", steps=1))
    stats = t.method.iteration(0, diagnostics=True)
    assert "classifier/accuracy" in stats and math.isfinite(stats["loss/g"])


@pytest.mark.slow
def test_text_metrics_on_hand_made_sentences(oracle_cfg):
    cfg = oracle_cfg()
    data = build_data(cfg.data, cfg.seed)
    task = task_for(data, cfg)
    refs = task.references()
    assert len(refs) == 128
    # the test sentences themselves: BLEU 1 against a set that contains each of them
    test_ids = data.reals(20, "holdout")
    ctx = Context(None, {"bleu_hypotheses": 20, "self_bleu_hypotheses": 20}, task=task)
    res = get_metric("bleu2").compute(Side("fake", test_ids), Side("ref", test_ids), ctx)
    assert res["bleu2"] == pytest.approx(1.0) and res["bleu5"] == pytest.approx(1.0)
    # 20 copies of one sentence: self-BLEU 1, unique n-grams those of one sentence
    same = test_ids[:1].repeat(20, 1)
    res = get_metric("self_bleu2").compute(Side("fake", same), Side("ref", same), ctx)
    assert res["self_bleu4"] == pytest.approx(1.0)
    res = get_metric("unique_ngrams").compute(Side("fake", same), Side("ref", same), ctx)
    assert res["unique_2grams"] == 5 and res["unique_4grams"] == 3  # max_len 6: 6 tokens
    nll = get_metric("nll_oracle").compute(Side("fake", test_ids), Side("ref", test_ids), ctx)
    assert nll["nll_oracle"] == pytest.approx(data.nll_oracle(test_ids))


@pytest.mark.slow
def test_unknown_text_metric_and_image_metric_on_text_fail_before_training(oracle_cfg):
    from stablegan.errors import ConfigError

    with pytest.raises(ConfigError, match="fid"):
        Trainer.from_config(oracle_cfg("eval.metrics=[fid]")).fit()
    with pytest.raises(ConfigError, match="did you mean 'bleu'"):
        from_dict({"data": {"name": "oracle"}, "eval": {"metrics": ["bleuu"]}})


@pytest.mark.slow
def test_cli_text_run_sample_prints_sentences_eval_and_report(oracle_cfg, tmp_path, capsys):
    from stablegan.cli import main

    run = tmp_path / "run"
    args = ["train", "--recipe", "oracle", "--out", str(run), "--steps", "1"]
    for item in [*TINY, "pretrain.steps=1"]:
        args += ["--set", item]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["sample", "--run", str(run), "--n", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and lines[-1].endswith("sample.txt")
    assert all(len(line.split()) == 6 for line in lines[:4])  # 4 sentences of max_len words
    assert (run / "samples" / "sample.txt").read_text().splitlines() == lines[:4]
    assert main(["eval", "--run", str(run), "--n", "40"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert "bleu2" in result and "nll_gen" in result and len(result["samples"]) == 10
    assert main(["report", "--run", str(run)]) == 0
    html = (run / "report" / "index.html").read_text()
    assert "Generated sentences" in html and result["samples"][0] in html


def test_cli_empty_corpus_and_bad_bytes_exit_2_before_training(tmp_path, capsys):
    from stablegan.cli import main

    (tmp_path / "train.txt").write_text("\n\n")
    (tmp_path / "test.txt").write_text("a caption\n")
    assert main(["train", "--recipe", "coco", "--set", f"data.path={tmp_path}",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "holds no sentences" in err and "Traceback" not in err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a good line\n\xff\xfe bad bytes\n")
    assert main(["train", "--recipe", "text-file", "--set", f"data.path={bad}",
                 "--out", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "data.text_errors=replace" in err
    assert not (tmp_path / "run2" / "checkpoints").exists()


@pytest.mark.slow
def test_bleu_set_sizes_are_configurable_and_stated(oracle_cfg):
    t = Trainer.from_config(oracle_cfg("eval.bleu_hypotheses=7", "eval.self_bleu_hypotheses=5",
                                       steps=1))
    final = t.evaluate(40, final=True)
    assert final["bleu_hypotheses"] == 7 and final["bleu_references"] == 128
    assert final["self_bleu_hypotheses"] == 5 and final["self_bleu_set"] == 40
    assert "floor/bleu_hypotheses" not in final and "floor/bleu_references" not in final
    periodic = t.evaluate(40, final=False)  # constants of the setup stay out of the curves
    assert "bleu_hypotheses" not in periodic and "bleu2" in periodic
