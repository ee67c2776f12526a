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
from stablegan.methods.pair import LatentPair, StylePair
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
    assert load_config("text-style", steps=0).steps == 0  # the autoencoder alone
    with pytest.raises(ConfigError, match="the autoencoder alone"):
        load_config("text-style", overrides=["style.autoencoder_steps=0"], steps=0)
    with pytest.raises(ConfigError, match="steps"):
        load_config("ring", steps=0)


def test_sentence_critic_without_real_sentences_of_a_style_is_refused(tmp_path: Path) -> None:
    # the first 10 training lines are all of style "1": style "0" has no real sentence
    cfg = cfg_for(write_corpus(tmp_path), "data.max_items=10", "style.sentence_critic=true")
    with pytest.raises(DataError, match=r"style\(s\) 0 have no training sentence"):
        Trainer.from_config(cfg)


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
    assert isinstance(m, StyleMethod) and isinstance(m.pair, StylePair)  # the default
    assert m.pair.real(5).shape == (5, 8) and not m.pair.real(5).requires_grad
    src = m.pair.source(4)
    assert src.shape == (4, trainer.data.max_len + 1)
    assert m.pair.fake(src).shape == (4, 8) and m.pair.fake(src).requires_grad
    # real side: style 0 ("0" = the NEG sentences), fake side: style 1 (POS)
    assert set(trainer.data.decode(src[:, :-1])) <= set(POS) and src[:, -1].tolist() == [1] * 4
    real = m.pair.sentences(0, 6)
    assert set(trainer.data.decode(real[:, :-1])) <= set(NEG)
    torch.manual_seed(3)
    codes = m.pair.real(6)
    torch.manual_seed(3)
    assert torch.equal(codes, m.G.encode(m.pair.sentences(0, 6)[:, :-1]))
    swapped = Trainer.from_config(cfg_for(write_corpus(tmp_path), "style.adversary_real=1"))
    assert swapped.method.pair.source(3)[:, -1].tolist() == [0] * 3
    prior = Trainer.from_config(cfg_for(write_corpus(tmp_path), "style.adversary=prior")).method
    assert isinstance(prior.pair, LatentPair) and prior.pair.real(5).shape == (5, 8)
    assert prior.pair.fake(prior.pair.source(4)).shape == (4, 8)
    assert [p.name for p in m.phases(2)] == ["autoencoder", "adversarial"]
    assert set(m.networks) == {"G", "D", "C", "S"}  # the recipe has the sentence critic on
    assert m.G.attention


@pytest.mark.slow
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


def test_denormals_flushed_inside_the_iteration_only(tmp_path: Path) -> None:
    from stablegan.methods.style import flush_denormals

    tiny = torch.tensor([1e-39])
    with flush_denormals(torch.device("cpu")):
        inside = (tiny * 1.0).item()
    assert inside == 0.0 and (tiny * 1.0).item() > 0.0  # restored afterwards


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
@pytest.mark.slow
def test_train_eval_and_transfer_cli_end_to_end(tmp_path: Path, capsys) -> None:
    root = write_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    sets = [a for s in [*TINY, f"data.path={root}", "style.autoencoder_steps=3"]
            for a in ("--set", s)]
    assert main(["train", "--recipe", "text-style", "--steps", "2", "--out", str(run), *sets,
                 "--quiet"]) == 0
    result = json.loads((run / "eval.json").read_text())
    for key in ("style_accuracy", "own_accuracy", "bleu_ref", "content_bleu", "geo_mean",
                "style_classifier_holdout_accuracy", "z_style_accuracy"):
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


def assert_resume_is_bit_identical(cfg, tmp_path: Path, attr: str, index: int,
                                   check=None) -> Trainer:
    """Train ``cfg`` uninterrupted (ref) and killed at the start of ``method.<attr>(index)``,
    then resumed (run); every weight, optimiser state and logged row must agree."""
    ref = Trainer.from_config(cfg, out_dir=tmp_path / "ref")
    if check is not None:
        check(ref)
    ref.fit()
    first = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    original = getattr(first.method, attr)

    def step(i: int, diagnostics: bool = False):
        if i == index:
            raise Killed(f"{attr} {i}")
        return original(i, diagnostics)

    setattr(first.method, attr, step)
    with pytest.raises(Killed):
        first.fit()
    second = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    second.resume()
    second.fit()
    assert_same_weights(ref, second)
    assert rows(tmp_path / "run" / "metrics.jsonl") == rows(tmp_path / "ref" / "metrics.jsonl")
    return second


@pytest.mark.slow
def test_resume_in_autoencoder_phase_is_bit_identical(tmp_path: Path) -> None:
    cfg = cfg_for(write_corpus(tmp_path / "corpus"), ae=10, steps=2)
    assert_resume_is_bit_identical(cfg, tmp_path, "autoencoder_step", 6)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["phase"] == "adversarial" and state["phase_steps"]["autoencoder"] == 10
    log = rows(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in log if r.get("phase") == "autoencoder"] == list(range(1, 11))


# ------------------------------------------------------------------------------ Yelp
def _yelp() -> Path | None:
    env = os.environ.get("STABLEGAN_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    root = root / "text" / "yelp"
    return root if (root / "sentiment.manual.reference").is_file() else None


@pytest.mark.skipif(_yelp() is None, reason="Yelp data not found (STABLEGAN_SHARED_DATA)")
@pytest.mark.slow
def test_yelp_splits() -> None:
    d = build_data(DataConfig(name="yelp-style", path=str(_yelp()), batch_size=64,
                              holdout_fraction=0.05, max_items=3000), 0)
    assert d.test_ids.shape[0] == 1000 and len(d.test_references) == 1000
    assert d.size == 3000 - 150 and d.label_names == ["0", "1"]


# ------------------------------------------------------------------------------ attention
@pytest.mark.parametrize("attention", [False, True])
def test_reconstruction_nll_equals_full_logits_cross_entropy(attention: bool) -> None:
    from stablegan.methods.style import reconstruction_loss

    torch.manual_seed(0)
    G = StyleAutoencoder(20, 6, 2, embed_dim=8, hidden=16, z_dim=8, c_dim=4,
                         attention=attention)
    ids = torch.tensor([[5, 6, 7, 2, 0, 0], [8, 9, 2, 0, 0, 0], [3, 4, 5, 6, 7, 2]])
    labels = torch.tensor([0, 1, 1])
    z, memory = G.encode_all(ids)
    assert (memory is not None) == attention
    full = reconstruction_loss(G.reconstruct_logits(ids, z, labels, memory), ids)
    # by hand: log-softmax of every logit, mean over the 4 + 3 + 6 non-pad targets
    logp = torch.log_softmax(G.reconstruct_logits(ids, z, labels, memory), -1)
    keep = ids != 0
    hand = -logp.gather(2, ids[..., None])[..., 0][keep].sum() / keep.sum()
    fast = G.reconstruction_nll(ids, z, labels, memory)
    assert torch.allclose(fast, full, atol=1e-6) and torch.allclose(fast, hand, atol=1e-6)


def test_attention_ignores_padding_and_other_sentences() -> None:
    """A sentence's transfer is the same alone and in a batch with a longer sentence (the
    attention reads its own non-pad positions only), and attention changes the output."""
    torch.manual_seed(0)
    G = StyleAutoencoder(20, 7, 2, embed_dim=8, hidden=16, z_dim=8, c_dim=4, attention=True)
    short = torch.tensor([[5, 6, 2, 0, 0, 0, 0]])
    longer = torch.tensor([[3, 4, 5, 6, 7, 8, 2]])
    t = torch.tensor([1])
    z, memory = G.encode_all(short)
    h0, _ = G._start(z, t)
    alone = G._output(h0, memory)
    zb, mb = G.encode_all(torch.cat([short, longer]))
    both = G._output(G._start(zb, torch.tensor([1, 1]))[0], mb)[:1]
    assert torch.allclose(alone, both, atol=1e-6)
    assert mb is not None and mb[1][0].tolist() == [True] * 3 + [False] * 4
    assert not torch.allclose(alone, G.out(h0), atol=1e-3)
    soft = G.soft_decode(z, t, 0.5, memory=memory)
    assert soft.shape == (1, 7, 20) and torch.allclose(soft.sum(-1), torch.ones(1, 7))


# ------------------------------------------------------------------------------ sentence critic
def test_sentence_critic_scores_the_head_of_each_label_and_reads_one_hots_as_ids() -> None:
    from stablegan.models.style import SentenceCritic, one_hot

    torch.manual_seed(0)
    S = SentenceCritic(20, 3, 8, 4)
    ids = torch.tensor([[5, 6, 7, 2, 0, 0], [8, 9, 2, 0, 0, 0]])
    heads = S.features(ids)
    assert heads.shape == (2, 3)
    got = S(ids, torch.tensor([2, 0]))
    assert torch.allclose(got, torch.stack([heads[0, 2], heads[1, 0]]))
    assert torch.allclose(S(one_hot(ids, 20), torch.tensor([2, 0])), got, atol=1e-6)


def _sentence_method(tmp_path: Path, *extra: str):
    trainer = Trainer.from_config(cfg_for(write_corpus(tmp_path), "style.sentence_critic=true",
                                          *extra))
    m = trainer.method
    torch.manual_seed(1)
    real = m.real_sentences(torch.tensor([0, 1, 1]))
    fake = torch.softmax(torch.randn(*real.shape, m.G.vocab_size) * 3, -1)
    return trainer, m, real, fake, torch.tensor([0, 1, 1])


def test_sentence_critic_loss_nsgan_by_hand(tmp_path: Path) -> None:
    from stablegan.models.style import one_hot

    _, m, real, fake, y = _sentence_method(tmp_path, "method=nsgan")
    loss, terms, stats = m.sentence_critic_loss(real, fake, y)
    s_r = m.S.features(one_hot(real, m.G.vocab_size)).gather(1, y[:, None])[:, 0]
    s_f = m.S.features(fake).gather(1, y[:, None])[:, 0]
    hand = -torch.log(torch.sigmoid(s_r)).mean() - torch.log(1 - torch.sigmoid(s_f)).mean()
    assert loss.item() == pytest.approx(hand.item(), rel=1e-5)
    assert set(terms) == {"sentence critic loss"}


@pytest.mark.parametrize("method", ["wgan-gp", "ppo-gan"])
def test_sentence_critic_loss_wasserstein_gp_and_reweighting_by_hand(tmp_path: Path,
                                                                     method: str) -> None:
    from stablegan.models.style import one_hot

    _, m, real, fake, y = _sentence_method(tmp_path, f"method={method}")
    torch.manual_seed(7)
    loss, terms, stats = m.sentence_critic_loss(real, fake, y)
    f = lambda x: m.S.features(x).gather(1, y[:, None])[:, 0]  # noqa: E731
    real = one_hot(real, m.G.vocab_size)
    s_r, s_f = f(real), f(fake)
    if method == "ppo-gan":  # Eq. 8 weights w = B softmax(f(fake)) on the fake term
        w = 3 * torch.softmax(s_f.detach(), 0)
        adv, lam = -s_r.mean() + (w * s_f).mean(), 5.0
        assert stats["sentence/weights_ess"] == pytest.approx(
            (w.sum() ** 2 / (w ** 2).sum()).item(), rel=1e-5)
    else:
        adv, lam = -s_r.mean() + s_f.mean(), 10.0
    torch.manual_seed(7)  # the same interpolation weights u ~ U[0, 1], one per sentence
    u = torch.rand(3, 1, 1)
    xhat = (u * real + (1 - u) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(f(xhat).sum(), xhat)
    gp = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert terms["sentence gradient penalty"].item() == pytest.approx(gp.item(), rel=1e-4)
    assert loss.item() == pytest.approx((adv + lam * gp).item(), rel=1e-4)


def test_generator_terms_by_hand(tmp_path: Path) -> None:
    """The three generator-side forms of the adversarial term on given scores."""
    s = torch.tensor([0.5, -1.0, 2.0])
    trainer = Trainer.from_config(cfg_for(write_corpus(tmp_path), "method=nsgan",
                                          "style.importance=softmax"))
    loss, stats = trainer.method.adversarial_term(s)
    w = 3 * torch.exp(s) / torch.exp(s).sum()
    sp = torch.log1p(torch.exp(-s))  # nonsaturating: -log sigmoid(s)
    assert loss.item() == pytest.approx((w * sp).mean().item(), rel=1e-6)
    trainer.method.cfg.style.importance = "none"
    assert trainer.method.adversarial_term(s)[0].item() == pytest.approx(sp.mean().item())
    clip = Trainer.from_config(cfg_for(write_corpus(tmp_path / "c"), "method=ppo-gan"))
    log_r = torch.log(torch.tensor([1.0, 0.5, 1.6]))
    loss, stats = clip.method.adversarial_term(s, log_r)
    # min(r A, clip(r, 0.6, 1.4) A), A = s (raw): 0.5, min(-0.5, -0.6) = -0.6, min(3.2, 2.8)
    assert loss.item() == pytest.approx(-(0.5 - 0.6 + 2.8) / 3, rel=1e-6)
    assert stats["ratio/clip_fraction"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("extra", [["method=nsgan"], ["method=wgan-gp"],
                                   ["method=ppo-gan", "schedule.n_critic=1", "schedule.n_gen=2"],
                                   ["method=nsgan", "style.importance=softmax"]])
def test_iteration_with_sentence_critic(tmp_path: Path, extra: list[str]) -> None:
    trainer = Trainer.from_config(cfg_for(write_corpus(tmp_path), "style.sentence_critic=true",
                                          *extra))
    m = trainer.method
    before = {k: v.clone() for k, v in m.S.state_dict().items()}
    stats = m.iteration(0)
    for key in ("loss/s", "sentence/real", "sentence/fake", "loss/sentence_adv"):
        assert key in stats and stats[key] == stats[key], key
    assert any(not torch.equal(before[k], v) for k, v in m.S.state_dict().items())
    assert sum(m.counts.values()) == type(m).updates_per_iteration(trainer.cfg)
    if "ppo-gan" in extra[0]:
        assert {"RS", "R", "S"} <= set(m.networks) and "sentence/ratio_clip_fraction" in stats
    if "style.importance=softmax" in extra:
        assert "sentence/weights_g_ess" in stats


def test_real_sentences_have_the_asked_styles(tmp_path: Path) -> None:
    trainer = Trainer.from_config(cfg_for(write_corpus(tmp_path), "style.sentence_critic=true"))
    m = trainer.method
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    got = trainer.data.decode(m.real_sentences(y))
    pos = set(POS)
    assert [int(s in pos) for s in got] == y.tolist()


# ------------------------------------------------------------------------------ shared pre-training
@pytest.mark.slow
def test_autoencoder_only_run_then_init_from_shares_g_and_c_and_resumes(tmp_path: Path) -> None:
    """steps=0 trains the autoencoder alone; a run with pretrain.init_from starts G and the
    own classifier C from it (D, S fresh), and resuming it mid-adversarial-phase with the
    sentence critic continues the same trajectory bit for bit."""
    root = write_corpus(tmp_path / "corpus")
    ae = Trainer.from_config(cfg_for(root, ae=4, steps=0), out_dir=tmp_path / "ae")
    ae.fit()
    assert ae.step == 0 and ae.phase_steps["autoencoder"] == 4
    extra = [f"pretrain.init_from={tmp_path / 'ae'}", "style.sentence_critic=true",
             "method=wgan-gp", "schedule.n_critic=2", "log.checkpoint_every=1"]
    cfg = cfg_for(root, *extra, ae=0, steps=4)

    def same_start(ref: Trainer) -> None:
        for name in ("G", "C"):
            for k, t in ae.method.networks[name].state_dict().items():
                assert torch.equal(t, ref.method.networks[name].state_dict()[k]), (name, k)

    second = assert_resume_is_bit_identical(cfg, tmp_path, "iteration", 2, same_start)
    assert second.step == 4 and {"S", "D"} <= set(second.method.networks)


@pytest.mark.slow
def test_init_from_with_another_architecture_is_refused(tmp_path: Path) -> None:
    from stablegan.errors import CheckpointError

    root = write_corpus(tmp_path / "corpus")
    Trainer.from_config(cfg_for(root, "style.attention=false", ae=2, steps=0),
                        out_dir=tmp_path / "ae").fit()
    cfg = cfg_for(root, f"pretrain.init_from={tmp_path / 'ae'}", "style.attention=true", ae=0)
    with pytest.raises(CheckpointError, match="does not fit network G"):
        Trainer.from_config(cfg)


# ------------------------------------------------------------------------------ the style adversary
def test_style_adversary_config_checks(tmp_path: Path) -> None:
    root = write_corpus(tmp_path)
    with pytest.raises(ConfigError, match="style.adversary"):
        cfg_for(root, "style.adversary=priors")
    with pytest.raises(ConfigError, match="style.adversary_real"):
        cfg_for(root, "style.adversary_real=2")
    with pytest.raises(ConfigError, match="does not support objective.loss=rsgan"):
        Trainer.from_config(cfg_for(root, "objective.loss=rsgan"))
    Trainer.from_config(cfg_for(root, "objective.loss=rsgan", "style.adversary=prior"))
    three = write_corpus(tmp_path / "three", labels=["1"] * 12 + ["0"] * 12 + ["2"] * 12,
                         test=False)
    with pytest.raises(ConfigError, match="compares the codes of two styles; data 'text-style' "
                                          "has 3"):
        Trainer.from_config(cfg_for(three))
    Trainer.from_config(cfg_for(three, "style.adversary=prior"))


def test_style_adversary_critic_loss_by_hand(tmp_path: Path) -> None:
    """One critic step: nsgan's BCE with the codes of style-0 sentences as reals (label 1) and
    of style-1 sentences as fakes (label 0); WGAN-GP's -D(z0) + D(z1) + lambda GP."""
    for method in ("nsgan", "wgan-gp"):
        m = Trainer.from_config(cfg_for(write_corpus(tmp_path / method),
                                        f"method={method}")).method
        torch.manual_seed(11)
        x0, x1 = m.pair.sentences(0, 4), m.pair.sentences(1, 4)
        with torch.no_grad():
            z0, z1 = m.G.encode(x0[:, :-1]), m.G.encode(x1[:, :-1])
            s0, s1 = m.D(z0), m.D(z1)
        if method == "nsgan":
            hand = -torch.log(torch.sigmoid(s0)).mean() - torch.log(1 - torch.sigmoid(s1)).mean()
        else:
            u = torch.rand(4, 1)
            zh = (u * z0 + (1 - u) * z1).requires_grad_(True)
            (g,) = torch.autograd.grad(m.D(zh).sum(), zh)
            hand = -s0.mean() + s1.mean() + 10.0 * ((g.norm(dim=1) - 1) ** 2).mean()
        torch.manual_seed(11)
        stats = m.d_step()
        assert float(stats["loss/d"]) == pytest.approx(hand.item(), rel=1e-5), method
        assert float(stats["critic/real"]) == pytest.approx(s0.mean().item(), rel=1e-5)


@pytest.mark.parametrize("loss", ["nonsaturating", "minimax", "wasserstein", "least_squares"])
def test_style_adversary_encoder_loss_by_hand(tmp_path: Path, loss: str) -> None:
    """The encoder's adversarial term on codes of both styles: the generator loss with the
    real side's (style 0) scores mirrored. Under minimax that is minus the classifier's
    cross-entropy (the authors' -lambda_z * loss_z_clas)."""
    m = Trainer.from_config(cfg_for(write_corpus(tmp_path), "method=nsgan",
                                    f"objective.loss={loss}")).method
    s = torch.tensor([0.5, -1.0, 2.0, 0.3])
    y = torch.tensor([0, 0, 1, 1])
    view, sign = m.encoder_view(s, y)
    assert sign.tolist() == [-1.0, -1.0, 1.0, 1.0]
    got = m.adversarial_term(view)[0].item()
    sig = torch.sigmoid(s)
    hand = {  # per code: style 0 should look fake, style 1 real
        "nonsaturating": torch.where(y == 0, -torch.log(1 - sig), -torch.log(sig)),
        "minimax": torch.where(y == 0, torch.log(sig), torch.log(1 - sig)),
        "wasserstein": torch.where(y == 0, s, -s),
        "least_squares": torch.where(y == 0, s ** 2 / 2, (s - 1) ** 2 / 2)}[loss].mean()
    assert got == pytest.approx(hand.item(), rel=1e-6)
    if loss == "minimax":  # = -CE of the classifier "style 0" with logit s
        ce = torch.nn.functional.binary_cross_entropy_with_logits(s, (y == 0).float())
        assert got == pytest.approx(-ce.item(), rel=1e-6)


def test_style_adversary_generator_step_and_accuracy(tmp_path: Path) -> None:
    """A generator step's logged adversarial term equals the hand computation on the codes of
    its batch, and adversary/accuracy the balanced accuracy of D's calls at logit 0."""
    m = Trainer.from_config(cfg_for(write_corpus(tmp_path), "method=nsgan")).method
    source = torch.cat([m.pair.sentences(0, 3), m.pair.sentences(1, 5)])
    y = source[:, -1]
    with torch.no_grad():
        s = m.D(m.G.encode(source[:, :-1]))
    sig = torch.sigmoid(s)
    hand = torch.where(y == 0, -torch.log(1 - sig), -torch.log(sig)).mean()
    acc = 0.5 * ((s[:3] > 0).float().mean() + (s[3:] <= 0).float().mean())
    stats = m.g_step(source, 1 - y)
    assert stats["loss/adv"] == pytest.approx(hand.item(), rel=1e-5)
    assert stats["adversary/accuracy"] == pytest.approx(acc.item())
    # the accuracy's thresholds: 0 for logits, halfway between the styles' means for a critic
    scores = torch.tensor([3.0, 2.0, 1.0, 0.5, -1.0])
    labels = torch.tensor([0, 0, 1, 1, 1])
    assert m.adversary_accuracy(scores, labels) == pytest.approx(0.5 * (1 + 1 / 3))
    m.objective.loss = "wasserstein"  # threshold (2.5 + 1/6) / 2 = 1.33: all right
    assert m.adversary_accuracy(scores, labels) == pytest.approx(1.0)


def test_style_adversary_ratio_clipping_sign(tmp_path: Path) -> None:
    """With ratio clipping the real side's codes use log r = -(R_old - R), the fake side's
    R_old - R, so the surrogate is PPO's clipped objective on the encoder's view."""
    m = Trainer.from_config(cfg_for(write_corpus(tmp_path), "method=ppo-gan")).method
    assert "R" in m.networks
    s = torch.tensor([0.5, -1.0, 2.0])
    y = torch.tensor([0, 1, 1])
    view, sign = m.encoder_view(s, y)  # wasserstein: view = (-0.5, -1.0, 2.0)
    log_r = sign * torch.log(torch.tensor([1 / 1.6, 0.5, 1.6]))  # r = (1.6, 0.5, 1.6)
    loss, stats = m.adversarial_term(view, log_r)
    # A = view (raw); min(r A, clip(r, 0.6, 1.4) A): min(-0.8, -0.7), min(-0.5, -0.6), min(3.2, 2.8)
    assert loss.item() == pytest.approx(-(-0.8 - 0.6 + 2.8) / 3, rel=1e-6)


@pytest.mark.parametrize("method,values", [
    # the last logged row (step 3) of 98c1492, the code before the style adversary, on this
    # corpus: 2 autoencoder steps, 3 iterations with the sentence critic. Recorded on an Intel
    # (AVX-512) machine; on an AMD EPYC one the BLAS kernels round differently and ppo-gan's
    # row reads loss/d 4.26280, loss/adv -0.31623, loss/g 4.12547 (after 3 GAN iterations),
    # hence rel 1e-4 / abs 1e-3: a changed draw or formula moves these by far more
    # (benchmarks/same_numbers.sh compares code against code bit for bit on one machine)
    ("nsgan", {"loss/d": 1.3954908847808838, "loss/adv": 0.5541895627975464,
               "loss/g": 5.125441551208496}),
    ("ppo-gan", {"loss/d": 4.2628865242004395, "loss/adv": -0.31671279668807983,
                 "loss/g": 4.125231027603149})])
@pytest.mark.slow
def test_prior_adversary_gives_the_numbers_before_issue_18(tmp_path: Path, method: str,
                                                           values: dict) -> None:
    extra = ["schedule.n_critic=2", "schedule.n_gen=2"] if method == "ppo-gan" else []
    cfg = cfg_for(write_corpus(tmp_path / "c"), f"method={method}", *extra,
                  "style.sentence_critic=true", "style.adversary=prior", steps=3, ae=2)
    trainer = Trainer.from_config(cfg, out_dir=tmp_path / "run")
    trainer.fit()
    last = rows(tmp_path / "run" / "metrics.jsonl")[-1]
    assert last["step"] == 3 and "adversary/accuracy" not in last
    for key, want in values.items():
        assert last[key] == pytest.approx(want, rel=1e-4, abs=1e-3), key


# ------------------------------------------------------------------------------ z probe
@pytest.mark.slow
def test_probe_accuracy_on_synthetic_codes() -> None:
    from stablegan.metrics.style import probe_accuracy

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (1500,), generator=g)
    noise = torch.randn(1500, 8, generator=g)
    separable = noise.clone()
    separable[:, 0] += 4.0 * (2 * y - 1)  # style in one coordinate, margin 8 std
    acc = probe_accuracy(separable[:1000], y[:1000], separable[1000:], y[1000:], 2)
    assert acc > 0.99
    chance = probe_accuracy(noise[:1000], y[:1000], noise[1000:], y[1000:], 2)
    assert abs(chance - 0.5) < 0.06  # 500 held-out codes: std of chance accuracy 0.022
    # balanced: 90 % of the held-out codes of one style, a constant guess scores 0.5
    yb = torch.cat([torch.zeros(450, dtype=torch.long), torch.ones(50, dtype=torch.long)])
    assert probe_accuracy(noise[:1000], torch.zeros(1000, dtype=torch.long), noise[1000:],
                          yb, 2) == pytest.approx(0.5)
    state = torch.random.get_rng_state()
    probe_accuracy(noise[:100], y[:100], noise[100:200], y[100:200], 2)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is untouched
