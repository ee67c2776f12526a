"""Typed run configuration: dataclasses, safe YAML, ``--set`` overrides and validation.

This module is the schema only: it knows neither the methods nor the evaluator. Presets and the
metric/extractor names are applied and checked a level above, by :mod:`stablegan.configure`
(resolution order, later wins: defaults <- method preset <- recipe file <- --set key=value).
Every key is checked: an unknown key gets a "did you mean" suggestion, a value of the wrong type
or out of range names the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stablegan.errors import ConfigError

LOSSES = ("minimax", "nonsaturating", "wasserstein", "hinge", "least_squares", "rsgan")
# training-health alarms (stablegan.training.health holds what each one reads and advises)
HEALTH_ALARMS = ("ess_collapse", "ratio_mean", "ratio_std", "classifier_saturated",
                 "loss_var_spike", "grad_spike", "diversity_collapse")


@dataclass
class DataConfig:
    # ring | grid | digits | mnist | cifar10 | image-folder | tensor | oracle | coco | text-file
    # | emnlp-news
    name: str = "ring"
    path: str | None = None  # dataset root / folder / .pt tensor file
    batch_size: int = 256
    image_size: int | None = None  # resize target for image-folder (square)
    channels: int | None = None  # 1 or 3 for image-folder; None keeps what the files are (RGB)
    download: bool = False  # allow torchvision to download MNIST / CIFAR-10
    holdout_fraction: float = 0.1  # held-out reals for the discriminator-overfitting check
    max_items: int | None = None  # use only the first N items of a finite dataset
    # image-folder: every immediate sub-folder of data.path is one class (ImageFolder layout)
    class_folders: bool = False
    # text: ids per sentence (tokens + <eos>); None = longest train/test sentence + 1
    max_len: int | None = None
    test_path: str | None = None  # text-file: the test file (BLEU references, held-out split)
    text_long: str = "truncate"  # truncate | drop sentences longer than max_len - 1 tokens
    text_errors: str = "strict"  # strict | replace invalid UTF-8
    vocab_from: str = "train+test"  # train+test (Texygen, TextGAN) | train (unseen -> <unk>)
    min_count: int = 1  # keep tokens seen at least this often
    oracle_seed: int = 0  # oracle: the seed of the oracle LSTM's N(0, 1) parameters
    oracle_train: int = 10_000  # oracle: training sentences it samples
    oracle_test: int = 5_000  # oracle: test sentences it samples
    oracle_vocab: int = 5000  # oracle: vocabulary of the oracle LSTM (SeqGAN/RelGAN: 5,000)


@dataclass
class ModelConfig:
    # auto | mlp | dcgan | resnet | flow  (auto: mlp for vectors, dcgan for images; flow: a RealNVP
    # generator with an exact log_prob, latent_dim = data dimension, MLP critic and classifier)
    name: str = "auto"
    latent_dim: int = 2
    hidden: int = 256  # MLP width
    layers: int = 3  # MLP hidden layers
    flow_layers: int = 8  # affine couplings of model.name=flow (each an MLP of width hidden)
    channels: int = 64  # base channel count of conv nets
    g_batchnorm: bool = True  # BatchNorm in the generator (conv nets)
    d_norm: str = "none"  # none | layer | batch  (batch conflicts with a gradient penalty)
    d_dropout: float = 0.0  # dropout in the critic (the CT-GAN term needs > 0)
    minibatch_stddev: bool = False  # minibatch standard-deviation feature before D's head
    minibatch_discrimination: int = 0  # number of minibatch-discrimination kernels (0 = off)
    # text models (model.name relgan | lstm): generator embedding, LSTM hidden size, RelGAN's
    # relational memory (slots, heads, head size), the CNN discriminator (embedding,
    # representations, filters per width 2/3/4/5)
    embed_dim: int = 32
    lstm_hidden: int = 32
    mem_slots: int = 1
    num_heads: int = 2
    head_size: int = 256
    d_embed_dim: int = 64
    num_rep: int = 64
    d_filters: int = 300
    # Gumbel-softmax inverse temperature: beta_scale * schedule(i / N) from 1 to beta_max, with
    # N = beta_steps adversarial steps (RelGAN/TextGAN: a fixed 5000; 0 = the run's adversarial
    # steps) and beta_scale 1 (the PPO-GAN authors' text code: 0.2, with beta_max 5)
    beta_max: float = 1.0
    beta_schedule: str = "exp"  # exp | lin | sigmoid | const | log | quad | sqrt
    beta_steps: int = 5000
    beta_scale: float = 1.0
    # speed (docs/distributed.md): torch.compile of G and D (in place, checkpoints unchanged;
    # the gradient penalty runs the eager D, since compiled modules have no double backward)
    compile: bool = False
    channels_last: bool = False  # channels-last memory format for convolutional G and D


@dataclass
class PretrainConfig:
    """MLE pre-training of a generator with a likelihood (a phase before the adversarial one)."""

    steps: int = 0  # minibatch steps of teacher-forced maximum likelihood; 0 = none
    lr: float = 1e-2  # Adam learning rate (RelGAN: 1e-2)
    # start G from the generator of another run's checkpoint (a .pt file or a run directory,
    # e.g. one pre-trained generator shared by every adversarial method); the data must match
    init_from: str | None = None
    # evaluate every K pre-training steps (evals.jsonl rows {"phase": "pretrain", "step": k}),
    # so a maximum-likelihood run has curves like eval.every's; 0 = none
    eval_every: int = 0


@dataclass
class ObjectiveConfig:
    loss: str = "nonsaturating"  # one of LOSSES
    label_smoothing: float = 0.0  # one-sided: real target = 1 - label_smoothing
    label_noise: float = 0.0  # flip probability (mode flip) or jitter half-width (mode uniform)
    label_noise_mode: str = "flip"  # flip | uniform
    feature_matching: float = 0.0  # weight of the feature-matching generator loss (0 = off)
    feature_matching_only: bool = False  # use feature matching instead of the adversarial G loss


@dataclass
class GradientPenaltyConfig:
    weight: float = 0.0  # lambda; 0 = off
    target: float = 1.0  # the norm the penalty pulls towards
    one_sided: bool = False  # penalise only norms above target (WGAN-LP style)
    # lazy regularisation (StyleGAN2): the penalty on every k-th critic step, weighted k * lambda
    every: int = 1


@dataclass
class ConsistencyConfig:
    weight: float = 0.0  # lambda_2 of CT-GAN; 0 = off
    feature_weight: float = 0.1  # weight of the penultimate-feature term
    margin: float = 0.0  # M'


@dataclass
class LipschitzConfig:
    weight_clip: float = 0.0  # clip every critic weight to [-c, c] after each step; 0 = off
    gradient_penalty: GradientPenaltyConfig = field(default_factory=GradientPenaltyConfig)
    consistency: ConsistencyConfig = field(default_factory=ConsistencyConfig)
    spectral_norm: bool = False  # spectral normalisation on every critic layer


@dataclass
class ScheduleConfig:
    n_critic: int = 1  # discriminator steps per iteration
    n_gen: int = 1  # generator steps per iteration
    d_warmup: int = 0  # discriminator-only steps before training
    same_z_for_gen_steps: bool = False  # reuse one latent batch for the n_gen generator steps


@dataclass
class OptimConfig:
    g_lr: float = 2e-4
    d_lr: float = 2e-4  # TTUR: set different learning rates for G and D
    c_lr: float = 2e-4  # ratio classifier (variational methods)
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: str = "none"  # none | linear (to 0 at the last step)
    grad_clip: float = 0.0  # max gradient norm for every network; 0 = off
    c_grad_clip: float = 0.5  # gradient-norm clip of the ratio classifier
    # fp32 | bf16 (autocast, CPU or GPU) | fp16 (autocast + GradScaler, GPU only); the gradient
    # penalty is always computed in fp32
    precision: str = "fp32"


@dataclass
class EmaConfig:
    decay: float = 0.0  # EMA of generator weights; 0 = off (e.g. 0.999)
    start: int = 0  # iteration at which averaging starts (copy before)


@dataclass
class AugmentConfig:
    policy: str = ""  # comma list of translation, cutout, color (images only); "" = off
    probability: float = 1.0  # chance each batch is augmented


@dataclass
class ReplayConfig:
    size: int = 0  # old fakes kept for D; 0 = off
    fraction: float = 0.0  # share of each fake batch drawn from the buffer


@dataclass
class UnrolledConfig:
    steps: int = 0  # unrolled discriminator steps in the generator update; 0 = off
    lr: float | None = None  # SGD step of the unrolled copy (default: d_lr)


@dataclass
class VariationalConfig:
    reweight: bool = False  # importance weights w = B softmax(f(x_fake)/T) on the critic's fakes
    temperature: float = 1.0
    clip: bool = False  # probability-ratio clipping of the generator (Eq. 5)
    eps: float = 0.4
    clip_mode: str = "paper"  # paper (Eq. 5) | reference (authors' code: f * min(r, 1+eps))
    advantage: str = "raw"  # raw | centered | normalized  (what plays PPO's advantage)
    # classifier: the authors' code, log r = l_old(x_old) - l(x_new); classifier_same_x: Eq. 6 as
    # printed, log r = l^(t)(x) - l(x) with a frozen copy C^(t) taken at the phase's start (r = 1
    # at theta_old); exact: log p_theta(x) - log p_old(x) (a generator with a log-likelihood)
    ratio: str = "classifier"
    # C's BatchNorm. joint: C trains on one concatenated real+fake batch and r's logits use eval
    # mode (running statistics); authors: train mode everywhere, reals and fakes pass separately
    # when C trains and r's logits are computed on pure (all-fake) batches
    classifier_bn: str = "joint"
    classifier_warmup: int = 0  # C steps before training
    classifier_lr_divide: bool = False  # C and G learning rates divided by n_gen (authors' code)
    # per_step: one C step before each G step (authors); per_phase: the same n_gen C steps at the
    # start of the phase, then C held fixed, so that r = 1 exactly at theta_old
    classifier_schedule: str = "per_step"
    # true (the paper): G's gradient flows through r and f. false: r is detached, so it only
    # decides where the clip binds (a trust-region mask on grad f); classifier ratio only
    ratio_gradient: bool = True
    # CleanRL's target_kl: stop the phase's remaining generator steps once a step's approx-KL
    # E[(r - 1) - log r] exceeds it (that step is still taken, as in CleanRL); 0 = off
    target_kl: float = 0.0


@dataclass
class ConditionalConfig:
    """Class-conditional GANs (docs/conditional.md); StudioGAN's names in brackets."""

    # how G sees the class [g_cond_mtd]: none | concat (a class embedding concatenated to z) |
    # cbn (conditional BatchNorm: class-dependent gain and bias in every BN layer of G)
    generator: str = "none"
    # how D sees the class [d_cond_mtd]: none | projection (Miyato & Koyama 2018,
    # f(x) + <embed(y), phi(x)>) | ac (auxiliary classifier, Odena et al. 2017)
    critic: str = "none"
    aux_weight: float = 1.0  # weight of the AC cross-entropy in the D and G losses [cond_lambda]
    embed_dim: int = 0  # class embedding size of model.conditional=concat (0: latent_dim)
    # the labels G draws: data (the training set's class frequencies) | uniform
    label_prior: str = "data"
    # variational.reweight under conditioning: class (softmax of the critic values within each
    # class of the batch, each class keeping its share) | batch (over the whole batch)
    reweight: str = "class"
    # flag a class whose samples the domain classifier assigns elsewhere: its class accuracy is
    # below this and another class takes the largest share of its samples
    misassigned_below: float = 0.5

    @property
    def enabled(self) -> bool:
        return self.generator != "none" or self.critic != "none"


# the data names of the style task (stablegan.data.style registers their sources under these)
STYLE_DATA = ("yelp-style", "text-style")
# the sentence files of the text task (stablegan.data.text registers their sources under these;
# "oracle" is text too, with its own source)
TEXT_DATA = ("coco", "text-file", "emnlp-news")


@dataclass
class StyleConfig:
    """Text style transfer (task "style": data yelp-style / text-style, methods.style)."""

    embed_dim: int = 64  # word embedding, shared by encoder, decoder and soft decoding
    hidden: int = 128  # encoder and decoder GRU (papers: 700)
    z_dim: int = 64  # content code from the encoder's final state (papers: 500)
    c_dim: int = 32  # style code: an embedding of the label (papers: 200)
    attention: bool = False  # decoder attends over the encoder states (Luong "general")
    critic_hidden: int = 128  # latent-code critic MLP (and the ratio classifier's)
    classifier_filters: int = 64  # CNN style classifier: filters per width 3, 4, 5
    classifier_dropout: float = 0.5
    autoencoder_steps: int = 200  # the autoencoder pre-training phase (teacher forcing only)
    rec_weight: float = 1.0  # reconstruction cross-entropy
    style_weight: float = 1.0  # model classifier's CE on the soft transferred sentence
    adv_weight: float = 0.5  # adversarial term of the latent-code critic (authors: 0.5)
    # the latent adversary's game: "style" (Tikhonov et al. 2019 / the authors' code: D tells
    # the codes of style adversary_real sentences from those of the other style, the encoder
    # fools it) or "prior" (an adversarial autoencoder: D tells N(0, I) draws from codes)
    adversary: str = "style"
    adversary_real: int = 0  # style adversary: the style whose codes are the critic's "real"
    # "none": objective.g_loss on D(z); "softmax": the authors' importance weights
    # B * softmax(D(z)) (no gradient) on the generator's critic loss, no ratio clipping
    importance: str = "none"
    # the auxiliary sentence-level critic (Tikhonov et al. 2019) on (soft) transferred sentences,
    # under the same objective / re-weighting / ratio clipping as the latent-code critic
    sentence_critic: bool = False
    sentence_weight: float = 0.5  # its adversarial term in the encoder/decoder loss
    sentence_filters: int = 64  # its CNN: filters per width 3, 4, 5
    tau_start: float = 1.0  # Gumbel-softmax temperature of the soft decoding ...
    tau_decay: float = 0.5  # ... multiplied by this every tau_every adversarial steps ...
    tau_min: float = 0.001  # ... down to this floor
    tau_every: int = 0  # steps per decay; 0 = one data epoch (training items // batch size)
    classifier_lr: float = 1e-3  # the model's own style classifier (trained on real sentences)
    eval_classifier_epochs: int = 2  # the separate evaluation CNN (trained on the train split)
    eval_max_sentences: int = 1000  # test sentences transferred per evaluation


@dataclass
class EvalConfig:
    every: int = 0  # evaluate every K iterations during training; 0 = only at the end
    n_samples: int = 2500
    metrics: list[str] = field(default_factory=list)  # empty = the data's default set
    # feature space of fid/kid/is/prdc/memorisation: auto | pixels | classifier | inception | any
    # registered extractor. auto: points -> coordinates; images -> the domain classifier when one
    # is found (classifier_path, RUN/classifier.pt, the cache) or can be trained in seconds (small
    # labelled data), else inception when its weights are on disk, else pixels (see
    # stablegan.evaluation)
    extractor: str = "auto"
    classifier_path: str | None = None  # domain classifier .pt (stablegan classifier train)
    inception_weights: str | None = None  # local weights-inception-2015-12-05-6726825d.pth
    k: int = 5  # nearest neighbours of precision/recall/density/coverage
    best_metric: str | None = None  # keep checkpoints/best.pt by this metric
    best_mode: str = "min"  # min | max
    patience: int = 0  # early stop after this many evaluations without improvement; 0 = off
    # text: generated sentences scored by BLEU against the test set (TextGAN-PyTorch 200,
    # RelGAN 100) and by self-BLEU against the rest of the evaluation set
    bleu_hypotheses: int = 200
    self_bleu_hypotheses: int = 200


@dataclass
class LogConfig:
    every: int = 1  # write metrics.jsonl every K iterations
    sample_every: int = 0  # sample grid from fixed noise every K iterations; 0 = steps // 10
    checkpoint_every: int = 0  # checkpoint every K iterations; 0 = steps // 10
    tensorboard: bool = True  # write event files when tensorboard is installed
    progress: bool = True  # live progress bar
    loss_variance_window: int = 50  # window of the rolling loss variance


@dataclass
class FaultConfig:
    max_rollbacks: int = 3  # non-finite values: roll back and retry this many times
    lr_factor: float = 0.5  # multiply learning rates by this after each rollback


@dataclass
class HealthConfig:
    enabled: bool = True  # training-health alarms (stablegan.training.health); each fires once
    fail_on: list[str] = field(default_factory=list)  # alarms that stop the run; [all] = every one
    every: int = 0  # diversity check every K iterations; 0 = max(1, steps // 20)
    ess_fraction: float = 0.1  # ess_collapse: weights/ess / batch size below this
    ratio_min: float = 0.2  # ratio_mean: ratio/mean outside [ratio_min, ratio_max]
    ratio_max: float = 5.0
    ratio_std: float = 10.0  # ratio_std: ratio/std above this
    accuracy: float = 0.999  # classifier_saturated: classifier/accuracy >= this ...
    accuracy_rows: int = 20  # ... for this many consecutive rows
    spike_factor: float = 10.0  # loss_var_spike / grad_spike: value > factor x running median
    spike_window: int = 50  # rows in that running median
    burn_in: int = 200  # iterations before the spike and diversity alarms may fire
    diversity: float = 0.1  # diversity_collapse: sample spread / real spread below this
    # mode_coverage (toy mixtures, from the periodic evaluations; warns, never stops a run): the
    # mode count at or below (1 - coverage_drop) x its best, or below coverage_floor x the modes
    # from half the budget on
    coverage_drop: float = 0.25
    coverage_floor: float = 0.5


@dataclass
class DistConfig:
    """Data-parallel training under torchrun (docs/distributed.md); ignored in one process."""

    sync_batchnorm: bool = False  # BatchNorm statistics over the global batch (G and D)
    # variational.reweight: the softmax of the importance weights over the GLOBAL batch (true:
    # scores all-gathered, the same weights as one process) or over each rank's slice (false)
    global_weights: bool = True
    backend: str = "auto"  # auto (nccl on CUDA, gloo on CPU) | gloo | nccl


@dataclass
class Config:
    method: str = "nsgan"
    seed: int = 0
    steps: int = 2000  # training iterations (each: n_critic D steps + n_gen G steps)
    device: str = "cpu"
    threads: int = 0  # torch CPU threads (--threads N); 0 = OMP_NUM_THREADS, else the default 1
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    lipschitz: LipschitzConfig = field(default_factory=LipschitzConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    unrolled: UnrolledConfig = field(default_factory=UnrolledConfig)
    variational: VariationalConfig = field(default_factory=VariationalConfig)
    conditional: ConditionalConfig = field(default_factory=ConditionalConfig)
    style: StyleConfig = field(default_factory=StyleConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log: LogConfig = field(default_factory=LogConfig)
    fault: FaultConfig = field(default_factory=FaultConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    dist: DistConfig = field(default_factory=DistConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


# --------------------------------------------------------------------------------------------
# Building a Config from nested dicts, with validation
# --------------------------------------------------------------------------------------------


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against annotation ``tp`` (with ints accepted for floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(
                f"config key '{key}' must be a list of {len(args)} numbers, got {value!r}",
                hint=f"for example --set {key}=[0.5,0.999]",
            )
        return tuple(_coerce(v, a, key) for v, a in zip(value, args))
    if origin is list:
        (arg,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        return [_coerce(v, arg, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(
            f"config key '{key}' must be true or false, got {value!r}",
            hint=f"use --set {key}=true or --set {key}=false",
        )
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"config key '{key}' must be an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None and math.isfinite(number):  # no nan/inf anywhere in a config
            return number
        raise ConfigError(f"config key '{key}' must be a finite number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"config key '{key}' must be a string, got {value!r}")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    return value


def _build(cls: type, data: Any, prefix: str = "") -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        where = f"'{prefix}'" if prefix else "the top level"
        raise ConfigError(f"config section {where} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            raise unknown_key_error(full, cls, prefix, value)
        kwargs[key] = _coerce(value, hints[key], full)
    return cls(**kwargs)


def all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the config schema (for suggestions and docs)."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        full = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(hints[f.name]):
            keys.extend(all_keys(hints[f.name], full))
        else:
            keys.append(full)
    return keys


def unknown_key_error(full: str, cls: type, prefix: str, value: Any = None) -> ConfigError:
    siblings = [f"{prefix}.{f.name}" if prefix else f.name for f in dataclasses.fields(cls)]
    leaf_path = full
    while isinstance(value, dict) and value:  # a misspelt section: name the key the user wrote
        first = next(iter(value))
        leaf_path, value = f"{leaf_path}.{first}", value[first]
    if leaf_path != full:
        close = difflib.get_close_matches(leaf_path, all_keys(), n=1, cutoff=0.6)
        if close:
            return ConfigError(f"unknown config key '{leaf_path}'",
                               hint=f"did you mean '{close[0]}'?")
    close = difflib.get_close_matches(full, all_keys() + siblings, n=1, cutoff=0.6)
    if not close:
        leaf = full.rsplit(".", 1)[-1]
        close = [k for k in all_keys() if k.rsplit(".", 1)[-1] == leaf][:1]
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(siblings)}"
    return ConfigError(f"unknown config key '{full}'", hint=hint)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["optim.g_lr=1e-4", "method=wgan-gp"]`` -> nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(
                f"--set expects key=value, got '{item}'", hint="for example --set optim.g_lr=1e-4"
            )
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"--set expects key=value, got '{item}'")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{p}' is a value, not a section")
        node[parts[-1]] = value
    return out


def _yaml_hint(problem: str, context: str, opened: str) -> str:
    """How to fix the YAML syntax error described by ``problem``/``context`` (PyYAML's words);
    ``opened`` locates where the construct named by ``context`` starts (may be empty)."""
    at = f" at {opened}" if opened else ""
    if "'\\t'" in problem:
        return "YAML indents with spaces only: replace the tab with spaces"
    for kind, pair in (("flow mapping", "{}"), ("flow sequence", "[]")):
        if kind in context:
            return (f"unbalanced braces or brackets: the '{pair[0]}'{at} is not closed; end it "
                    f"with '{pair[1]}' and separate its items with commas")
    if "unacceptable character" in problem:
        return "remove the non-printable character (is this a text file?)"
    if "quoted scalar" in context:
        return f"the quote{at} is never closed: end the value with the same quote"
    if "mapping values are not allowed" in problem:
        return ("write 'key: value' with a space after the colon (check the line above too: "
                "'name:ring' must be 'name: ring'), and quote a value that contains ': '")
    if "found '}'" in problem or "found ']'" in problem:
        return "unbalanced braces or brackets: a closing '}' or ']' has no matching opening one"
    if "block end" in problem or "could not find expected ':'" in problem:
        return ("check the indentation (the keys of one section start in the same column, "
                "spaces only) and that each line is 'key: value'")
    return ("look for unbalanced braces or brackets, a tab used for indentation, a missing space "
            "after a colon or an unclosed quote")


def _yaml_error(path: Path, text: str, err: yaml.YAMLError) -> ConfigError:
    """ConfigError for a YAML syntax error: 1-based line and column, the line's text, a hint."""
    lines = text.splitlines()
    mark = getattr(err, "problem_mark", None)
    if mark is not None:
        line, column = mark.line, mark.column
    elif isinstance(err, yaml.reader.ReaderError):  # a control character: only its position
        before = text[: err.position]
        line, column = before.count("\n"), err.position - (before.rfind("\n") + 1)
    else:
        first = f"{err}".splitlines()[0]
        return ConfigError(f"config file '{path}' is not valid YAML: {first}",
                           hint=_yaml_hint("", "", ""))
    problem = str(getattr(err, "problem", None) or f"{err}".splitlines()[0])
    context = str(getattr(err, "context", None) or "")
    cmark = getattr(err, "context_mark", None)
    opened = f"line {cmark.line + 1}, column {cmark.column + 1}" if cmark is not None else ""
    detail = f"line {line + 1}, column {column + 1}: {problem}"
    if context:
        detail += f" ({context} that starts at {opened})" if opened else f" ({context})"
    shown = line
    if (shown >= len(lines) or not lines[shown].strip()) and cmark is not None:
        shown = cmark.line  # the error is at the end of the file: show where the construct began
    if shown < len(lines):
        text_of = lines[shown] if len(lines[shown]) <= 80 else lines[shown][:77] + "..."
        detail += f"; line {shown + 1} reads {text_of!r}"
    return ConfigError(f"config file '{path}' is not valid YAML: {detail}",
                       hint=_yaml_hint(problem, context, opened))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load``; clear errors for missing or malformed files
    (a syntax error names its line and column, shows the line and hints at the usual causes)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist", hint="check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file '{path}' is not UTF-8 text: {err}",
                          hint="save it as UTF-8 text (is it a YAML file?)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise _yaml_error(path, text, err) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"config file '{path}' must hold a mapping of keys, not {kind}",
                          hint="write one 'key: value' per line, with a space after the colon "
                               "(e.g. 'steps: 100')")
    return data


def build(data: dict[str, Any]) -> Config:
    """A validated Config from one complete nested dict (no method preset applied: that is the
    job of :func:`stablegan.configure.resolve`, a level above the schema)."""
    cfg = _build(Config, data)
    validate(cfg)
    return cfg


def _check(ok: bool, key: str, message: str, hint: str | None = None) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {message}", hint=hint)


def _choice(value: str, key: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        raise ConfigError(
            f"config key '{key}' must be one of {', '.join(choices)}; got '{value}'", hint=hint
        )


def validate(cfg: Config) -> None:
    """Reject impossible values with a message naming the key (one helper per group of keys)."""
    _validate_run(cfg)
    _validate_data(cfg)
    _validate_model(cfg)
    _validate_objective(cfg)
    _validate_lipschitz(cfg)
    _validate_schedule(cfg)
    _validate_optim(cfg)
    _validate_tricks(cfg)
    _validate_variational(cfg)
    _validate_conditional(cfg)
    _validate_style(cfg)
    _validate_eval(cfg)
    _validate_log(cfg)


def _validate_run(cfg: Config) -> None:
    """steps, seed, device, threads"""
    autoencoder_only = cfg.data.name in STYLE_DATA and cfg.style.autoencoder_steps > 0
    _check(cfg.steps >= 1 or (cfg.steps == 0 and (cfg.pretrain.steps > 0 or autoencoder_only)),
           "steps", f"must be at least 1 (0 only with pretrain.steps > 0: maximum likelihood "
                    f"alone, or style.autoencoder_steps > 0: the autoencoder alone), got "
                    f"{cfg.steps}")
    _check(cfg.seed >= 0, "seed", f"must be >= 0, got {cfg.seed}")
    _check(cfg.device in ("cpu", "cuda") or cfg.device.startswith("cuda:"), "device",
           f"must be cpu, cuda or cuda:N, got '{cfg.device}'")
    _check(cfg.threads >= 0, "threads", f"must be >= 0 (0: OMP_NUM_THREADS or the default), "
           f"got {cfg.threads}")


def _validate_data(cfg: Config) -> None:
    """data.*"""
    d = cfg.data
    _check(d.batch_size >= 2, "data.batch_size", f"must be at least 2, got {d.batch_size}")
    _check(0.0 <= d.holdout_fraction < 1.0, "data.holdout_fraction", "must be in [0, 1)")
    _check(d.image_size is None or d.image_size >= 4, "data.image_size", "must be >= 4")
    _check(d.channels in (None, 1, 3), "data.channels", "must be 1 or 3")
    _check(d.max_items is None or d.max_items >= 1, "data.max_items", "must be >= 1")


def _validate_model(cfg: Config) -> None:
    """model.*"""
    m = cfg.model
    _choice(m.name, "model.name", ("auto", "mlp", "dcgan", "resnet", "flow", "relgan", "lstm"))
    _check(m.flow_layers >= 1, "model.flow_layers", "must be >= 1")
    _check(m.latent_dim >= 1, "model.latent_dim", f"must be >= 1, got {m.latent_dim}")
    _validate_text(cfg)
    _check(m.hidden >= 1, "model.hidden", "must be >= 1")
    _check(m.layers >= 1, "model.layers", "must be >= 1")
    _check(m.channels >= 1, "model.channels", "must be >= 1")
    _choice(m.d_norm, "model.d_norm", ("none", "layer", "batch"))
    _check(0.0 <= m.d_dropout < 1.0, "model.d_dropout", "must be in [0, 1)")
    _check(m.minibatch_discrimination >= 0, "model.minibatch_discrimination", "must be >= 0")


def _validate_objective(cfg: Config) -> None:
    """objective.*"""
    o = cfg.objective
    _choice(o.loss, "objective.loss", LOSSES)
    _check(0.0 <= o.label_smoothing < 0.5, "objective.label_smoothing", "must be in [0, 0.5)")
    _choice(o.label_noise_mode, "objective.label_noise_mode", ("flip", "uniform"))
    _check(0.0 <= o.label_noise < 0.5, "objective.label_noise", "must be in [0, 0.5)")
    bce = o.loss in ("minimax", "nonsaturating")
    _check(bce or (o.label_smoothing == 0 and o.label_noise == 0), "objective.label_smoothing",
           f"and objective.label_noise apply to minimax/nonsaturating losses, not '{o.loss}'")
    _check(o.feature_matching >= 0, "objective.feature_matching", "must be >= 0")


def _validate_lipschitz(cfg: Config) -> None:
    """lipschitz.* (the consistency term also needs model.d_dropout)"""
    lp = cfg.lipschitz
    _check(lp.weight_clip >= 0, "lipschitz.weight_clip", "must be >= 0")
    _check(lp.gradient_penalty.weight >= 0, "lipschitz.gradient_penalty.weight", "must be >= 0")
    _check(lp.gradient_penalty.target > 0, "lipschitz.gradient_penalty.target", "must be > 0")
    _check(lp.gradient_penalty.every >= 1, "lipschitz.gradient_penalty.every", "must be >= 1")
    _check(lp.consistency.weight >= 0, "lipschitz.consistency.weight", "must be >= 0")
    _check(lp.consistency.feature_weight >= 0, "lipschitz.consistency.feature_weight",
           "must be >= 0")
    _check(lp.consistency.weight == 0 or cfg.model.d_dropout > 0,
           "lipschitz.consistency.weight", "needs a critic with dropout (two dropout passes)",
           hint="also set model.d_dropout, e.g. --set model.d_dropout=0.2")


def _validate_schedule(cfg: Config) -> None:
    """schedule.*"""
    s = cfg.schedule
    _check(s.n_critic >= 1, "schedule.n_critic", f"must be at least 1, got {s.n_critic}")
    _check(s.n_gen >= 1, "schedule.n_gen", f"must be at least 1, got {s.n_gen}")
    _check(s.d_warmup >= 0, "schedule.d_warmup", "must be >= 0")


def _validate_optim(cfg: Config) -> None:
    """optim.*"""
    op = cfg.optim
    for k in ("g_lr", "d_lr", "c_lr"):
        v = getattr(op, k)
        _check(v > 0, f"optim.{k}", f"must be a positive learning rate, got {v}")
    _check(all(0.0 <= b < 1.0 for b in op.betas), "optim.betas", "must both be in [0, 1)")
    _choice(op.lr_decay, "optim.lr_decay", ("none", "linear"))
    _check(op.grad_clip >= 0, "optim.grad_clip", "must be >= 0")
    _check(op.c_grad_clip >= 0, "optim.c_grad_clip", "must be >= 0")
    _choice(op.precision, "optim.precision", ("fp32", "bf16", "fp16"))
    _check(op.precision != "fp16" or cfg.device.startswith("cuda"), "optim.precision",
           "fp16 needs a CUDA device (a GradScaler guards fp16 gradients on the GPU); on the "
           "CPU use bf16", hint="--set optim.precision=bf16, or --set device=cuda")
    _choice(cfg.dist.backend, "dist.backend", ("auto", "gloo", "nccl"))
    _check(not cfg.dist.sync_batchnorm or cfg.device.startswith("cuda"), "dist.sync_batchnorm",
           "needs device=cuda (torch's SyncBatchNorm runs on GPUs only)",
           hint="on the CPU each rank's BatchNorm uses its slice of the batch; leave it false")


def _validate_tricks(cfg: Config) -> None:
    """ema.*, augment.*, replay.*, unrolled.*"""
    _check(0.0 <= cfg.ema.decay < 1.0, "ema.decay", "must be in [0, 1)")
    _check(cfg.ema.start >= 0, "ema.start", "must be >= 0")
    allowed = ("translation", "cutout", "color")
    for p in [p.strip() for p in cfg.augment.policy.split(",") if p.strip()]:
        _choice(p, "augment.policy", allowed)
    _check(0.0 <= cfg.augment.probability <= 1.0, "augment.probability", "must be in [0, 1]")
    _check(cfg.replay.size >= 0, "replay.size", "must be >= 0")
    _check(0.0 <= cfg.replay.fraction < 1.0, "replay.fraction", "must be in [0, 1)")
    _check(cfg.replay.fraction == 0 or cfg.replay.size > 0, "replay.fraction",
           "needs a replay buffer", hint="also set replay.size, e.g. --set replay.size=10000")
    _check(cfg.unrolled.steps >= 0, "unrolled.steps", "must be >= 0")
    _check(cfg.unrolled.lr is None or cfg.unrolled.lr > 0, "unrolled.lr", "must be > 0")


def _validate_variational(cfg: Config) -> None:
    """variational.*"""
    v = cfg.variational
    _check(v.temperature > 0, "variational.temperature", "must be > 0")
    _check(0.0 < v.eps < 1.0, "variational.eps", f"must be in (0, 1), got {v.eps}")
    _choice(v.clip_mode, "variational.clip_mode", ("paper", "reference"))
    _choice(v.advantage, "variational.advantage", ("raw", "centered", "normalized"))
    _choice(v.ratio, "variational.ratio", ("classifier", "classifier_same_x", "exact"))
    _choice(v.classifier_bn, "variational.classifier_bn", ("joint", "authors"))
    _check(not (v.ratio == "classifier_same_x" and v.classifier_schedule == "per_phase"),
           "variational.classifier_schedule",
           "per_phase with variational.ratio=classifier_same_x holds C equal to its frozen copy "
           "for the whole phase, so r = 1 everywhere; use per_step")
    _choice(v.classifier_schedule, "variational.classifier_schedule", ("per_step", "per_phase"))
    _check(v.classifier_warmup >= 0, "variational.classifier_warmup", "must be >= 0")
    _check(math.isfinite(v.target_kl) and v.target_kl >= 0, "variational.target_kl",
           f"must be >= 0 (0 = off), got {v.target_kl}")
    _check(v.ratio_gradient or v.ratio != "exact", "variational.ratio_gradient",
           "must be true with variational.ratio=exact",
           hint="the exact ratio's critic values are detached, so with r detached as well the "
                "generator would get no gradient")


def _validate_conditional(cfg: Config) -> None:
    """conditional.* (the tricks that keep no labels are refused with conditioning)"""
    c = cfg.conditional
    _choice(c.generator, "conditional.generator", ("none", "concat", "cbn"))
    _choice(c.critic, "conditional.critic", ("none", "projection", "ac"))
    _choice(c.label_prior, "conditional.label_prior", ("data", "uniform"))
    _choice(c.reweight, "conditional.reweight", ("class", "batch"))
    _check(c.aux_weight >= 0, "conditional.aux_weight", f"must be >= 0, got {c.aux_weight}")
    _check(c.embed_dim >= 0, "conditional.embed_dim", "must be >= 0")
    _check(0.0 <= c.misassigned_below <= 1.0, "conditional.misassigned_below",
           "must be in [0, 1]")
    if not c.enabled:
        return
    _check((c.generator == "none") == (c.critic == "none"), "conditional.generator",
           f"is '{c.generator}' but conditional.critic is '{c.critic}': both networks must see "
           "the class, or neither", hint="e.g. --set conditional.generator=cbn "
                                         "--set conditional.critic=projection (or method=cgan-pd)")
    _check(cfg.replay.size == 0, "replay.size", "must be 0 for a conditional GAN: the replay "
           "buffer keeps no labels", hint="--set replay.size=0")
    _check(cfg.unrolled.steps == 0, "unrolled.steps", "must be 0 for a conditional GAN (the "
           "unrolled critic steps see real batches with other labels)",
           hint="--set unrolled.steps=0")
    _check(c.generator != "cbn" or cfg.model.g_batchnorm, "conditional.generator",
           "cbn needs BatchNorm in the generator (model.g_batchnorm=false)",
           hint="--set model.g_batchnorm=true, or conditional.generator=concat")
    _check(not cfg.model.compile, "model.compile", "is not supported for conditional GANs "
           "(the critic reads its labels beside the input)", hint="--set model.compile=false")


def _validate_style(cfg: Config) -> None:
    """style.*"""
    st = cfg.style
    for key in ("embed_dim", "hidden", "z_dim", "c_dim", "critic_hidden", "classifier_filters",
                "sentence_filters", "eval_max_sentences"):
        _check(getattr(st, key) >= 1, f"style.{key}", f"must be >= 1, got {getattr(st, key)}")
    for key in ("autoencoder_steps", "tau_every", "eval_classifier_epochs"):
        _check(getattr(st, key) >= 0, f"style.{key}", f"must be >= 0, got {getattr(st, key)}")
    for key in ("rec_weight", "style_weight", "adv_weight", "sentence_weight"):
        _check(getattr(st, key) >= 0, f"style.{key}", f"must be >= 0, got {getattr(st, key)}")
    _check(0.0 <= st.classifier_dropout < 1.0, "style.classifier_dropout", "must be in [0, 1)")
    _choice(st.importance, "style.importance", ("none", "softmax"))
    _choice(st.adversary, "style.adversary", ("style", "prior"))
    _check(st.adversary_real in (0, 1), "style.adversary_real",
           f"must be 0 or 1 (the style index on the real side), got {st.adversary_real}")
    _check(not (st.importance == "softmax" and cfg.variational.clip), "style.importance",
           "=softmax is the authors' variant without ratio clipping",
           hint="set variational.clip=false (or style.importance=none)")
    _check(st.tau_start > 0 and st.tau_min > 0, "style.tau_start",
           "and style.tau_min must be > 0")
    _check(0.0 < st.tau_decay <= 1.0, "style.tau_decay", "must be in (0, 1]")
    _check(st.classifier_lr > 0, "style.classifier_lr", "must be a positive learning rate")


def _validate_eval(cfg: Config) -> None:
    """eval.*"""
    e = cfg.eval
    _check(e.every >= 0, "eval.every", "must be >= 0")
    _check(e.n_samples >= 2, "eval.n_samples", "must be >= 2")
    _choice(e.best_mode, "eval.best_mode", ("min", "max"))
    _check(e.patience >= 0, "eval.patience", "must be >= 0")
    _check(e.patience == 0 or (e.best_metric is not None and e.every > 0), "eval.patience",
           "needs eval.best_metric and eval.every > 0")
    _check(e.k >= 1, "eval.k", f"must be >= 1, got {e.k}")
    _check(e.bleu_hypotheses >= 1, "eval.bleu_hypotheses", "must be >= 1")
    _check(e.self_bleu_hypotheses >= 1, "eval.self_bleu_hypotheses", "must be >= 1")
    for key in ("classifier_path", "inception_weights"):
        _check(getattr(e, key) != "", f"eval.{key}", "must be a file path (or left unset)")


def _validate_log(cfg: Config) -> None:
    """log.*, fault.*"""
    lg = cfg.log
    _check(lg.every >= 1, "log.every", "must be >= 1")
    _check(lg.sample_every >= 0, "log.sample_every", "must be >= 0")
    _check(lg.checkpoint_every >= 0, "log.checkpoint_every", "must be >= 0")
    _check(lg.loss_variance_window >= 2, "log.loss_variance_window", "must be >= 2")
    _check(cfg.fault.max_rollbacks >= 0, "fault.max_rollbacks", "must be >= 0")
    _check(0.0 < cfg.fault.lr_factor <= 1.0, "fault.lr_factor", "must be in (0, 1]")
    h = cfg.health
    for name in h.fail_on:
        _choice(name, "health.fail_on", ("all",) + HEALTH_ALARMS)
    _check(h.every >= 0, "health.every", "must be >= 0")
    _check(0.0 < h.ess_fraction <= 1.0, "health.ess_fraction", "must be in (0, 1]")
    _check(0.0 < h.ratio_min < 1.0 < h.ratio_max, "health.ratio_min",
           f"and health.ratio_max must satisfy 0 < ratio_min < 1 < ratio_max, got "
           f"{h.ratio_min:g} and {h.ratio_max:g}")
    _check(h.ratio_std > 0, "health.ratio_std", "must be > 0")
    _check(0.0 < h.accuracy <= 1.0, "health.accuracy", "must be in (0, 1]")
    _check(h.accuracy_rows >= 1, "health.accuracy_rows", "must be >= 1")
    _check(h.spike_factor > 1.0, "health.spike_factor", "must be > 1")
    _check(h.spike_window >= 2, "health.spike_window", "must be >= 2")
    _check(h.burn_in >= 0, "health.burn_in", "must be >= 0")
    _check(0.0 < h.diversity < 1.0, "health.diversity", "must be in (0, 1)")
    _check(0.0 < h.coverage_drop < 1.0, "health.coverage_drop", "must be in (0, 1)")
    _check(0.0 <= h.coverage_floor <= 1.0, "health.coverage_floor", "must be in [0, 1]")


def _validate_text(cfg: Config) -> None:
    d, m = cfg.data, cfg.model
    _check(d.max_len is None or d.max_len >= 2, "data.max_len", "must be >= 2 (tokens + <eos>)")
    _choice(d.text_long, "data.text_long", ("truncate", "drop"))
    _choice(d.text_errors, "data.text_errors", ("strict", "replace"))
    _choice(d.vocab_from, "data.vocab_from", ("train+test", "train"))
    _check(d.min_count >= 1, "data.min_count", "must be >= 1")
    _check(d.oracle_train >= 1 and d.oracle_test >= 1, "data.oracle_train",
           "and data.oracle_test must be >= 1")
    _check(d.oracle_vocab >= 2, "data.oracle_vocab", f"must be >= 2, got {d.oracle_vocab}")
    for key in ("embed_dim", "lstm_hidden", "mem_slots", "num_heads", "head_size", "d_embed_dim",
                "num_rep", "d_filters"):
        _check(getattr(m, key) >= 1, f"model.{key}", "must be >= 1")
    _check(m.d_embed_dim % m.num_rep == 0, "model.d_embed_dim",
           f"must be a multiple of model.num_rep ({m.num_rep})")
    _check(m.beta_max >= 1.0, "model.beta_max", "must be >= 1 (the annealing starts at 1)")
    _check(m.beta_steps >= 0, "model.beta_steps",
           f"must be >= 0 (0 = over the run's adversarial steps), got {m.beta_steps}")
    _check(math.isfinite(m.beta_scale) and m.beta_scale > 0, "model.beta_scale",
           f"must be a positive number, got {m.beta_scale}")
    _choice(m.beta_schedule, "model.beta_schedule",
            ("exp", "lin", "sigmoid", "const", "log", "quad", "sqrt"))
    _check(cfg.pretrain.steps >= 0, "pretrain.steps", "must be >= 0")
    _check(cfg.pretrain.lr > 0, "pretrain.lr", "must be a positive learning rate")
    _check(cfg.pretrain.eval_every >= 0, "pretrain.eval_every", "must be >= 0 (0 = none)")
    _check(not (m.compile and (d.name == "oracle" or d.name in TEXT_DATA)), "model.compile",
           f"must be false for text (data '{d.name}'): the compiled token-by-token loop "
           "fails at the first sample step and runs slower than eager where it runs",
           hint="set model.compile=false (text runs eager)")


def save_yaml(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Readable list of differences between two nested config dicts."""
    lines = []
    for k in sorted(set(old) | set(new)):
        full = f"{prefix}.{k}" if prefix else k
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            lines.extend(diff(a, b, full))
        elif a != b:
            lines.append(f"{full}: {a!r} -> {b!r}")
    return lines
