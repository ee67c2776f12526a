"""The paper's tables as data: published settings as recipe + ``--set`` overrides, and the
published numbers with their source.

Every published number here is one the project's own sources quote (docs/benchmarks.md, issue 21,
/work/shared/docs/METHOD-NOTES.md); a number they do not quote is ``None`` (shown "–"), never
filled in from memory. Settings that our sources do not give (the paper's seed count, the
adversarial budget of COCO / EMNLP News / CIFAR-10) are the project's choices, each named in the
table's ``notes``.

A table runs in two stages when it has a pre-training stage (text: MLE pre-training of the
generator; style transfer: the autoencoder): one pre-training run per seed, whose own evaluation
is the MLE (or autoencoder) row, then every method of the table starts from the pre-trained
network of its seed (``pretrain.init_from``) for ``steps`` adversarial iterations.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from stablegan.errors import ConfigError

WU2020 = "Wu et al. 2020 (NeurIPS), as quoted in docs/benchmarks.md"


@dataclass(frozen=True)
class Published:
    """One published number and where it is from."""

    value: float
    source: str


@dataclass(frozen=True)
class Row:
    """One method of a table: ``spec`` is a compare method spec (``relgan``,
    ``ppo-gan+variational.eps=0.2``); ``None`` is the pre-training stage's own result (the MLE
    row). ``published`` maps a metric of the table to its published value (absent: "–")."""

    label: str
    spec: str | None
    published: dict[str, Published] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """The pre-training stage: the config key of its budget, the budget, and the overrides a
    method run adds to start from it (``pretrain.init_from`` is added by the runner)."""

    key: str
    steps: int
    then: tuple[str, ...]
    smoke_steps: int


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    recipe: str
    settings: tuple[str, ...]  # the published settings, as --set overrides on the recipe
    steps: int  # adversarial iterations of every method run
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]  # eval.json keys of the table, in order
    rows: tuple[Row, ...]
    pretrain: Stage | None
    smoke: tuple[str, ...]  # toy-size overrides on top of ``settings`` (--smoke)
    smoke_steps: int
    notes: tuple[str, ...] = ()
    needs_cifar: bool = False  # CIFAR-10 files must be under data.path
    smoke_metrics: tuple[str, ...] = ()  # the metrics at toy size, when they differ

    def row(self, label: str) -> Row:
        return next(r for r in self.rows if r.label == label)

    def metrics_for(self, smoke: bool) -> tuple[str, ...]:
        return self.smoke_metrics if smoke and self.smoke_metrics else self.metrics


# RelGAN's networks at the paper's sizes (the text recipes' descriptions: head size 256, 64
# representations, 300 filters per width; RelGAN's 1 memory slot, 2 heads, embeddings 32 / 64
# are the recipes' own), batch 64, Adam 1e-4 adversarial, 1e-2 for MLE pre-training
_RELGAN_PAPER = ("model.head_size=256", "model.num_rep=64", "model.d_filters=300",
                 "data.batch_size=64", "optim.g_lr=1e-4", "optim.d_lr=1e-4", "optim.c_lr=1e-4",
                 "pretrain.lr=1e-2", "model.beta_steps=5000", "eval.n_samples=500")
# 150 MLE epochs of 10,000 sentences at batch 64 (docs/benchmarks.md: "about 23,000 steps")
_MLE_150_EPOCHS = 23_438
_ADVERSARIAL = 3_000  # RelGAN / the paper: 3,000 adversarial iterations (docs/benchmarks.md)
_TEXT_STAGE = Stage("pretrain.steps", _MLE_150_EPOCHS, ("pretrain.steps=0",), smoke_steps=20)
_TEXT_SMOKE = ("model.embed_dim=8", "model.head_size=16", "model.d_embed_dim=8",
               "model.num_rep=4", "model.d_filters=8", "data.batch_size=16",
               "eval.n_samples=64", "eval.bleu_hypotheses=32", "eval.self_bleu_hypotheses=32",
               "log.every=1")
_ORACLE_SMOKE = (*_TEXT_SMOKE, "data.oracle_vocab=100", "data.oracle_train=256",
                 "data.oracle_test=128")
_ORACLE_NOTES = (
    "seeds: 3, the project's convention; the paper's seed count is not in our sources",
    "ours = ppo-gan-text-authors, the authors' released text code (METHOD-NOTES.md)",
    "beta_max 1 (the oracle recipe's); RelGAN's paper also ran 100 and 1,000",
)
_BLEU = ("bleu2", "bleu3", "bleu4", "bleu5")
_ORACLE_QUOTE = f"{WU2020} 'Oracle, length 20' and issue 21; table number not in our sources"
_COCO_QUOTE = f"{WU2020} 'COCO captions'; table number not in our sources"


def _pub(source: str, **values: float) -> dict[str, Published]:
    return {k: Published(v, source) for k, v in values.items()}


def _oracle(name: str, length: int, published: bool) -> Table:
    def pub(**values: float) -> dict[str, Published]:
        return _pub(_ORACLE_QUOTE, **values) if published else {}

    return Table(
        name=name, title=f"synthetic oracle, length {length} (V 5,000, 10,000 training sentences)",
        recipe="oracle", settings=(*_RELGAN_PAPER, f"data.max_len={length}"),
        steps=_ADVERSARIAL, seeds=(0, 1, 2), metrics=("nll_oracle", "nll_gen"),
        rows=(Row("MLE", None, pub(nll_oracle=9.038)),
              Row("RelGAN", "relgan", pub(nll_oracle=6.680)),
              Row("WGAN-GP", "wgan-gp", pub(nll_oracle=6.89)),
              Row("ours", "ppo-gan-text-authors", pub(nll_oracle=5.67))),
        pretrain=_TEXT_STAGE, smoke=(*_ORACLE_SMOKE, f"data.max_len={min(length // 2, 10)}"),
        smoke_steps=4,
        notes=_ORACLE_NOTES + (() if published else (
            "no published number of this table is in our sources: every cell is '–'",)))


TABLES: dict[str, Table] = {
    "oracle20": _oracle("oracle20", 20, True),
    "oracle40": _oracle("oracle40", 40, False),
    "coco": Table(
        name="coco", title="Image COCO captions (Texygen split, 10,000 train / 10,000 test)",
        recipe="coco", settings=(*_RELGAN_PAPER, "model.beta_max=100"),
        steps=_ADVERSARIAL, seeds=(0, 1, 2), metrics=(*_BLEU, "nll_gen"),
        rows=(Row("MLE", None, _pub(_COCO_QUOTE, bleu2=0.731, bleu3=0.497, bleu4=0.305,
                                    bleu5=0.189)),
              Row("RelGAN(100)", "relgan", _pub(_COCO_QUOTE, bleu2=0.849, bleu3=0.687,
                                                bleu4=0.502, bleu5=0.331, nll_gen=0.756)),
              Row("ours", "ppo-gan-text-authors")),
        pretrain=_TEXT_STAGE, smoke=(*_TEXT_SMOKE, "data.max_len=12"), smoke_steps=3,
        notes=("needs the captions under data.path (train.txt, test.txt)",
               "the paper's own COCO numbers are not in our sources: 'ours' is '–'",
               "3,000 adversarial iterations as on the oracle; the COCO budget is not in our "
               "sources", _ORACLE_NOTES[0], _ORACLE_NOTES[1])),
    "emnlp-news": Table(
        name="emnlp-news", title="EMNLP2017 WMT News", recipe="emnlp-news",
        settings=(*_RELGAN_PAPER, "model.beta_max=100"), steps=_ADVERSARIAL, seeds=(0, 1, 2),
        metrics=(*_BLEU, "nll_gen"),
        rows=(Row("MLE", None), Row("RelGAN(100)", "relgan"),
              Row("ours", "ppo-gan-text-authors")),
        pretrain=_TEXT_STAGE, smoke=(*_TEXT_SMOKE, "data.max_len=12"), smoke_steps=3,
        notes=("needs emnlp_news.txt and testdata/test_emnlp.txt under data.path "
               "(data.download=true fetches them)",
               "no published number of this table is in our sources (METHOD-NOTES.md quotes "
               "TextGAN's NLL_gen range 2.2-2.5, not a row of the paper): every cell is '–'",
               "150 MLE epochs are counted as on COCO (23,438 steps); EMNLP News has ~270,000 "
               "sentences, so that is fewer epochs: --pretrain-steps N to change",
               _ORACLE_NOTES[0], _ORACLE_NOTES[1])),
    "yelp": Table(
        name="yelp", title="text style transfer, Yelp (BLEU-4 x100 against the human references)",
        recipe="yelp-style",
        settings=("style.hidden=700", "style.z_dim=500", "style.c_dim=200",
                  "style.attention=true", "style.sentence_critic=true", "data.batch_size=64"),
        steps=23 * 1_000, seeds=(0, 1, 2), metrics=("bleu_ref", "style_accuracy"),
        rows=(Row("autoencoder", None),
              Row("Tikhonov et al. (nsgan)", "nsgan",
                  _pub(f"Tikhonov et al. 2019, {WU2020} 'Style transfer'", bleu_ref=0.3282)),
              Row("ours", "ppo-gan",
                   _pub(f"{WU2020} 'Style transfer' and issue 21", bleu_ref=0.3345))),
        pretrain=Stage("style.autoencoder_steps", 7 * 1_000, ("style.autoencoder_steps=0",),
                       smoke_steps=20),
        smoke=("style.hidden=16", "style.z_dim=8", "style.c_dim=4", "style.embed_dim=8",
               "style.critic_hidden=16", "style.classifier_filters=4",
               "style.eval_classifier_epochs=1", "data.batch_size=16", "eval.n_samples=64",
               "log.every=1"),
        smoke_steps=3,
        notes=("BLEU is stored as a fraction (0.3345 = the paper's 33.45)",
               "the papers train 7 + 23 epochs on the full 444K-sentence training split; the "
               "shared data hold the 63,894-sentence dev split, so steps here are counted as "
               "7,000 autoencoder and 23,000 adversarial updates (about 7 + 23 epochs of it), "
               "the project's choice",
               "style accuracy: no published number is in our sources",
               "ppo-gan (5:5) runs as many iterations as nsgan (1:1): 5x its encoder/decoder "
               "updates (benchmarks/style.sh equalises them; here the iterations are equal)",
               _ORACLE_NOTES[0])),
    "cifar10": Table(
        name="cifar10", title="CIFAR-10, ResNet (the authors' released setting)",
        recipe="cifar10-resnet",
        settings=("data.batch_size=32", "eval.extractor=inception", "eval.n_samples=50000"),
        steps=100_000, seeds=(0, 1, 2), metrics=("is/inception", "fid/inception"),
        smoke_metrics=("kid/pixels", "swd/pixels"),
        rows=(Row("WGAN-GP", "wgan-gp"), Row("CT-GAN", "ct-gan"),
              Row("ours", "ppo-gan-authors")),
        pretrain=None,
        smoke=("model.channels=8", "model.latent_dim=16", "data.batch_size=8",
               "eval.n_samples=64", "eval.extractor=pixels", "log.every=1"),
        smoke_steps=3, needs_cifar=True,
        notes=("needs the CIFAR-10 files under data.path",
               "no published IS / FID of the paper is in our sources: every cell is '–'",
               "IS and FID with the Inception network on 50,000 samples, as the authors' code "
               "(METHOD-NOTES.md); needs the images extra (torch-fidelity) and its weights; "
               "--smoke uses pixel features (KID, SWD) instead",
               "100,000 iterations: the cifar10-resnet recipe's budget; the authors' is not in "
               "our sources", "batch 32: the authors' released code (METHOD-NOTES.md)",
               _ORACLE_NOTES[0])),
}


def table_names() -> list[str]:
    return list(TABLES)


def get_table(name: str) -> Table:
    """The table ``name``; a StableganError (CLI exit 2) listing the tables otherwise."""
    if name not in TABLES:
        close = difflib.get_close_matches(name, list(TABLES), n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown table '{name}'; the tables are: {', '.join(TABLES)}",
                          hint=f"{guess}e.g. stablegan reproduce oracle20 --dry-run")
    return TABLES[name]
