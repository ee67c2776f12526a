"""Text style transfer (issue 12): data checks, models, the latent pair, the method's phases,
the style metrics, the transfer CLI and resume in the autoencoder phase.

Everything runs on a tiny two-style corpus written to tmp_path (sizes of a few units); the Yelp
data test reads ``$STABLEGAN_SHARED_DATA`` or ``<repo>/../shared/data`` and skips without it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import assert_same_weights, rows

from stablegan.cli import main
from stablegan.config import DataConfig
from stablegan.data import build_data
from stablegan.errors import ConfigError, DataError
from stablegan.methods.pair import LatentPair
from stablegan.methods.style import StyleMethod
from stablegan.metrics.bleu import corpus_bleu, pairwise_bleu
from stablegan.models.style import StyleAutoencoder, StyleClassifier, mask_after_eos
from stablegan.recipes import load_config
from stablegan.training.checkpoint import load_checkpoint
from stablegan.training.trainer import Trainer

POS = ["the food was great .", "i love this place !", "friendly staff and good prices .",
       "the best pizza in town .", "great service , will come back .", "very tasty and fresh ."]
NEG = ["the food was awful .", "i hate this place !", "rude staff and high prices .",
       "the worst pizza in town .", "slow service , never again .", "very bland and stale ."]
TINY = ["data.batch_size=4", "style.embed_dim=8", "style.hidden=16", "style.z_dim=8",
        "style.c_dim=4", "style.critic_hidden=8", "style.classifier_filters=4",
        "style.eval_classifier_epochs=1", "log.progress=false", "log.tensorboard=false",
        "log.every=1", "log.sample_every=1000", "data.holdout_fraction=0.2"]


def write_corpus(root: Path, *, labels: list[str] | None = None, test: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    text = POS * 3 + NEG * 3
    labs = labels if labels is not None else ["1"] * 18 + ["0"] * 18
    (root / "sentiment.train.text").write_text("\n".join(text) + "\n")
    (root / "sentiment.train.labels").write_text("\n".join(labs) + "\n")
    if test:
        (root / "sentiment.test.text").write_text("the food was great .\ni hate this place !\n")
        (root / "sentiment.test.labels").write_text("1\n0\n")
        (root / "sentiment.test.reference").write_text("the food was awful .\ni love this "
                                                       "place !\n")
    return root


def cfg_for(root: Path, *overrides: str, steps: int = 2, ae: int = 3):
    return load_config("text-style", overrides=[*TINY, f"data.path={root}",
                                                f"style.autoencoder_steps={ae}", *overrides],
                       steps=steps)


# ------------------------------------------------------------------------------ data checks
def test_source_packs_ids_and_labels(tmp_path: Path) -> None:
    d = build_data(DataConfig(name="text-style", path=str(write_corpus(tmp_path)),
                              batch_size=4), 0)
    assert d.task == "style" and d.label_names == ["0", "1"] and d.num_styles == 2
    x = d.sample(4)
    assert x.shape == (4, d.max_len + 1) and set(x[:, -1].tolist()) <= {0, 1}
    assert d.test_ids.shape == (2, d.max_len) and d.test_labels.tolist() == [1, 0]
    assert d.test_references[0] == ["the", "food", "was", "awful", "."]


def test_label_count_mismatch_is_refused(tmp_path: Path) -> None:
    root = write_corpus(tmp_path, labels=["1"] * 35)
    with pytest.raises(DataError, match="has 35 lines but .* has 36"):
        build_data(DataConfig(name="text-style", path=str(root), batch_size=4), 0)


def test_test_label_outside_label_set_is_refused(tmp_path: Path) -> None:
    root = write_corpus(tmp_path)
    (root / "sentiment.test.labels").write_text("1\n2\n")
    with pytest.raises(DataError, match=r"line 2: label '2' is not one of the training labels"):
        build_data(DataConfig(name="text-style", path=str(root), batch_size=4), 0)


def test_one_style_only_is_refused(tmp_path: Path) -> None:
    root = write_corpus(tmp_path, labels=["1"] * 36)
    with pytest.raises(DataError, match="needs at least two"):
        build_data(DataConfig(name="text-style", path=str(root), batch_size=4), 0)


def test_empty_sentences_are_skipped_and_counted(tmp_path: Path, capsys) -> None:
    root = write_corpus(tmp_path)
    text = (root / "sentiment.train.text").read_text().splitlines()
    text[0], text[20] = "   ", ""
    (root / "sentiment.train.text").write_text("\n".join(text) + "\n")
    d = build_data(DataConfig(name="text-style", path=str(root), batch_size=4), 0)
    assert d.report["skipped_empty"] == 2 and d.report["train_sentences"] == 34
    assert "skipped 2 blank or empty sentences" in capsys.readouterr().err


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="style.importance"):
        load_config("text-style", overrides=["style.importance=other"])
    with pytest.raises(ConfigError, match="without ratio clipping"):
        load_config("text-style", overrides=["method=ppo-gan", "style.importance=softmax"])
    with pytest.raises(ConfigError, match="style.tau_decay"):
        load_config("text-style", overrides=["style.tau_decay=0"])


# ------------------------------------------------------------------------------ models
def test_model_shapes_and_gradient_flow() -> None:
    torch.manual_seed(0)
    G = StyleAutoencoder(20, 6, 2, embed_dim=8, hidden=16, z_dim=8, c_dim=4)
    C = StyleClassifier(20, 2, 8, 4)
    ids = torch.tensor([[5, 6, 7, 2, 0, 0], [8, 9, 2, 0, 0, 0]])
    labels = torch.tensor([0, 1])
    z = G.encode(ids)
    assert z.shape == (2, 8)
    assert G.reconstruct_logits(ids, z, labels).shape == (2, 6, 20)
    soft = G.soft_decode(z, 1 - labels, tau=0.5)
    assert soft.shape == (2, 6, 20) and torch.allclose(soft.sum(-1), torch.ones(2, 6))
    C(soft).sum().backward()  # the classifier's signal reaches encoder, style codes, decoder
    for name in ("embed.weight", "encoder.weight_ih_l0", "style.weight", "decoder.weight_hh_l0",
                 "out.weight"):
        grad = dict(G.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    out = G(torch.cat([ids, labels[:, None]], 1))
    assert out.shape == (2, 6) and out.dtype == torch.long
    assert C(ids).shape == (2, 2)


def test_mask_after_eos() -> None:
    assert mask_after_eos(torch.tensor([[5, 2, 7, 8]])).tolist() == [[5, 2, 0, 0]]


def test_latent_pair_shapes_and_method_choice(tmp_path: Path) -> None:
    trainer = Trainer.from_config(cfg_for(write_corpus(tmp_path)))
    m = trainer.method
    assert isinstance(m, StyleMethod) and isinstance(m.pair, LatentPair)
    assert m.pair.real(5).shape == (5, 8)
    src = m.pair.source(4)
    assert src.shape == (4, trainer.data.max_len + 1)
    assert m.pair.fake(src).shape == (4, 8)
    assert [p.name for p in m.phases(2)] == ["autoencoder", "adversarial"]
    assert set(m.networks) == {"G", "D", "C"}


def test_reconstruction_improves_in_a_few_steps(tmp_path: Path) -> None:
    cfg = cfg_for(write_corpus(tmp_path), "optim.g_lr=0.01")
    trainer = Trainer.from_config(cfg)
    m = trainer.method
    losses = [m.autoencoder_step(i)["loss/rec"] for i in range(40)]
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


@pytest.mark.parametrize("extra", [["method=nsgan"], ["method=wgan-gp"],
                                   ["method=ppo-gan", "schedule.n_critic=1", "schedule.n_gen=2"],
                                   ["method=nsgan", "style.importance=softmax"],
                                   ["method=ppo-gan-reweight", "schedule.n_critic=1"]])
def test_adversarial_iteration_under_each_objective(tmp_path: Path, extra: list[str]) -> None:
    trainer = Trainer.from_config(cfg_for(write_corpus(tmp_path), *extra))
    m = trainer.method
    before = {k: v.clone() for k, v in m.G.state_dict().items()}
    stats = m.iteration(0)
    for key in ("loss/d", "loss/rec", "loss/style", "loss/adv", "style/tau", "loss/c"):
        assert key in stats and stats[key] == stats[key], key
    assert any(not torch.equal(before[k], v) for k, v in m.G.state_dict().items())
    assert sum(m.counts.values()) == type(m).updates_per_iteration(trainer.cfg)
    if "ppo-gan" in extra[0] and "reweight" not in extra[0]:
        assert "ratio/clip_fraction" in stats and "R" in m.networks
    if "style.importance=softmax" in extra:
        assert "weights/g_ess" in stats


def test_gumbel_temperature_halves_per_epoch_with_floor(tmp_path: Path) -> None:
    from stablegan.methods.style import gumbel_temperature

    cfg = cfg_for(write_corpus(tmp_path), "style.tau_every=10", "style.tau_min=0.1")
    assert [gumbel_temperature(s, cfg, 99) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert gumbel_temperature(1000, cfg, 99) == 0.1


# ------------------------------------------------------------------------------ metrics
class _Data:
    num_styles = 2

    def __init__(self, refs):
        self.test_references = refs

    def decode(self, ids):
        words = {5: "good", 6: "food", 7: "bad", 8: "place", 9: "."}
        return [" ".join(words[int(i)] for i in row if int(i) in words) for row in ids]


class _Task:
    def __init__(self, refs):
        self.data = _Data(refs)


def test_bleu_method4_wiring() -> None:
    from stablegan.metrics.registry import Context, Side
    from stablegan.metrics.style import _style

    refs = [["good", "food", "."], ["bad", "place", "."]]
    inputs = torch.tensor([[7, 6, 9, 2, 0], [5, 8, 9, 2, 0]])
    packed = torch.cat([inputs, torch.tensor([[0], [1]])], 1)
    outputs = torch.tensor([[5, 6, 9, 2, 0], [7, 8, 2, 0, 0]])
    ctx = Context(None, {"wanted": ["bleu_ref", "content_bleu"]}, task=_Task(refs))
    got = _style(Side("fake", outputs), Side("ref", packed), ctx)
    hyps = [["good", "food", "."], ["bad", "place"]]
    want = pairwise_bleu(hyps, refs, 4, "method4")
    assert got["bleu_ref"] == pytest.approx(sum(want) / 2)
    # 3-token sentences have no 4-grams: method4 smooths the missing orders instead of 0
    assert 0 < want[1] < want[0] < 1
    srcs = [["bad", "food", "."], ["good", "place", "."]]
    assert got["content_bleu"] == pytest.approx(corpus_bleu([[s] for s in srcs], hyps, 4))
    assert set(got) == {"bleu_ref", "content_bleu"}
    nltk = pytest.importorskip("nltk.translate.bleu_score")
    m4 = nltk.SmoothingFunction().method4
    for h, r, w in zip(hyps, refs, want):
        assert w == pytest.approx(nltk.sentence_bleu([r], h, smoothing_function=m4))


# ------------------------------------------------------------------------------ end to end
def test_train_eval_and_transfer_cli_end_to_end(tmp_path: Path, capsys) -> None:
    root = write_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    sets = [a for s in [*TINY, f"data.path={root}", "style.autoencoder_steps=3"]
            for a in ("--set", s)]
    assert main(["train", "--recipe", "text-style", "--steps", "2", "--out", str(run), *sets,
                 "--quiet"]) == 0
    result = json.loads((run / "eval.json").read_text())
    for key in ("style_accuracy", "own_accuracy", "bleu_ref", "content_bleu", "geo_mean",
                "style_classifier_holdout_accuracy"):
        assert 0.0 <= result[key] <= 1.0, key
    assert (run / "samples" / "autoencoder_step_000003.txt").is_file()
    assert (run / "style_classifier.pt").is_file()
    capsys.readouterr()
    inp = tmp_path / "in.txt"
    inp.write_text("the food was great .\n\nzzqx place !\n")
    out = tmp_path / "out.txt"
    assert main(["transfer", "--run", str(run), "--input", str(inp), "--to", "0", "--out",
                 str(out)]) == 0
    lines = out.read_text().split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""  # one line per input line
    err = capsys.readouterr().err
    assert "1 lines tokenise to nothing" in err and "zzqx" in err and "<unk>" in err
    assert main(["transfer", "--run", str(run), "--input", str(inp)]) == 0  # classifier-read
    assert main(["transfer", "--run", str(run), "--input", str(inp), "--to", "5"]) == 2
    assert "not one of this run's labels" in capsys.readouterr().err
    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n")
    assert main(["transfer", "--run", str(run), "--input", str(blank)]) == 2
    assert "holds no sentences" in capsys.readouterr().err


class Killed(Exception):
    pass


def test_resume_in_autoencoder_phase_is_bit_identical(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "corpus")
    cfg = cfg_for(root, ae=10, steps=2)
    ref = Trainer.from_config(cfg, out_dir=tmp_path / "ref")
    ref.fit()
    first = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    original = first.method.autoencoder_step

    def step(i: int, diagnostics: bool = False):
        if i == 6:
            raise Killed("autoencoder step 6")
        return original(i, diagnostics)

    first.method.autoencoder_step = step
    with pytest.raises(Killed):
        first.fit()
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["phase"] == "autoencoder" and state["phase_steps"]["autoencoder"] == 6
    second = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    second.resume()
    second.fit()
    assert_same_weights(ref, second)
    assert rows(tmp_path / "run" / "metrics.jsonl") == rows(tmp_path / "ref" / "metrics.jsonl")


# ------------------------------------------------------------------------------ Yelp
def _yelp() -> Path | None:
    env = os.environ.get("STABLEGAN_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    root = root / "text" / "yelp"
    return root if (root / "sentiment.manual.reference").is_file() else None


@pytest.mark.skipif(_yelp() is None, reason="Yelp data not found (STABLEGAN_SHARED_DATA)")
def test_yelp_splits() -> None:
    d = build_data(DataConfig(name="yelp-style", path=str(_yelp()), batch_size=64,
                              holdout_fraction=0.05, max_items=3000), 0)
    assert d.test_ids.shape[0] == 1000 and len(d.test_references) == 1000
    assert d.size == 3000 - 150 and d.label_names == ["0", "1"]
