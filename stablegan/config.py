"""The run configuration: the general sections, composed with the tasks' own into ``Config``.

Three modules share the work: :mod:`stablegan.core.schema` is the machinery (typed sections,
``key(default, "description")``, coercion, "did you mean", the key listing),
:mod:`stablegan.configfile` reads and writes files (YAML, ``--set``, diff), and
:mod:`stablegan.taskconfig` holds the sections and keys each task owns (text: ``data.max_len``,
``model.beta_max`` ...; ``style``; ``conditional``). This module declares the keys every run
has, composes the final ``Config`` and validates it; it re-exports the public names of all three
(``from stablegan.config import Config, build, validate, read_yaml, parse_set, ...``).

It knows neither the methods nor the evaluator: presets and the metric/extractor names are
applied and checked a level above, by :mod:`stablegan.configure` (resolution order, later wins:
defaults <- method preset <- recipe file <- --set key=value). Every key is checked: an unknown
key gets a "did you mean" suggestion, a value of the wrong type or out of range names the key
and the allowed values. ``stablegan config`` lists every key with its type, default, owner and
description.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from stablegan.configfile import (
    annotated_yaml,
    deep_merge,
    diff,
    lookup,
    parse_set,
    read_yaml,
    save_yaml,
    yaml_value,
)
from stablegan.core.errors import ConfigError
from stablegan.core.schema import (
    GENERAL,
    KeyInfo,
    SectionInfo,
    build_section,
    check,
    check_choice,
    choice,
    choices_of,
    describe,
    describe_sections,
    key,
    section,
)
from stablegan.core.schema import (
    all_keys as _all_keys,
)
from stablegan.core.schema import (
    unknown_key_error as _unknown_key_error,
)
from stablegan.taskconfig import SCHEMA
from stablegan.taskconfig.conditional import ConditionalConfig
from stablegan.taskconfig.style import STYLE_DATA, StyleConfig
from stablegan.taskconfig.text import TEXT_DATA

__all__ = [
    "GENERAL", "HEALTH_ALARMS", "LOSSES", "SCHEMA", "STYLE_DATA", "TEXT_DATA",
    "AugmentConfig", "ConditionalConfig", "Config", "ConfigError", "ConsistencyConfig",
    "DataConfig", "DistConfig", "EmaConfig", "EvalConfig", "FaultConfig",
    "GradientPenaltyConfig", "HealthConfig", "KeyInfo", "LipschitzConfig", "LogConfig",
    "ModelConfig", "ObjectiveConfig", "OptimConfig", "PretrainConfig", "ReplayConfig",
    "ScheduleConfig", "StyleConfig", "UnrolledConfig", "VariationalConfig", "all_keys", "build",
    "deep_merge", "diff", "explain", "key_info", "keys", "parse_set", "read_yaml", "save_yaml",
    "sections",
    "unknown_key_error", "validate",
]

LOSSES = ("minimax", "nonsaturating", "wasserstein", "hinge", "least_squares", "rsgan")
# training-health alarms (stablegan.training.health holds what each one reads and advises)
HEALTH_ALARMS = ("ess_collapse", "ratio_mean", "ratio_std", "classifier_saturated",
                 "loss_var_spike", "grad_spike", "diversity_collapse")


@SCHEMA.general("data")
@dataclass
class DataConfig:
    """The dataset and its batches (the text task adds its keys: stablegan.taskconfig.text)."""

    name: str = key("ring", "the dataset: ring, grid, digits, mnist, cifar10, image-folder, "
                            "tensor, oracle, coco, text-file, emnlp-news, yelp-style, text-style")
    path: str | None = key(None, "dataset root, image folder, .pt tensor file or sentence file")
    batch_size: int = key(256, "minibatch size of every network")
    image_size: int | None = key(None, "image-folder: resize target (square)")
    channels: int | None = key(None, "image-folder: 1 or 3; null keeps what the files are (RGB)")
    download: bool = key(False, "allow torchvision to download MNIST / CIFAR-10")
    holdout_fraction: float = key(0.1, "held-out reals for the discriminator-overfitting check")
    max_items: int | None = key(None, "use only the first N items of a finite dataset")
    class_folders: bool = key(False, "image-folder: every immediate sub-folder of data.path is "
                                     "one class (ImageFolder layout)")


@SCHEMA.general("model")
@dataclass
class ModelConfig:
    """The generator and critic networks (the text task adds its keys)."""

    # auto: mlp for vectors, dcgan for images; flow: a RealNVP generator with an exact log_prob,
    # latent_dim = data dimension, MLP critic and classifier
    name: str = key("auto", "the networks: auto (mlp for vectors, dcgan for images), mlp, dcgan, "
                            "resnet, flow (RealNVP, exact log_prob), relgan, lstm (text)",
                    choices=("auto", "mlp", "dcgan", "resnet", "flow", "relgan", "lstm"))
    latent_dim: int = key(2, "dimension of the latent z")
    hidden: int = key(256, "MLP width")
    layers: int = key(3, "MLP hidden layers")
    flow_layers: int = key(8, "affine couplings of model.name=flow (each an MLP of width hidden)")
    channels: int = key(64, "base channel count of conv nets")
    g_batchnorm: bool = key(True, "BatchNorm in the generator (conv nets)")
    d_norm: str = key("none", "critic normalisation (batch conflicts with a gradient penalty)",
                      choices=("none", "layer", "batch"))
    d_dropout: float = key(0.0, "dropout in the critic (the CT-GAN term needs > 0)")
    minibatch_stddev: bool = key(False, "minibatch standard-deviation feature before D's head")
    minibatch_discrimination: int = key(0, "number of minibatch-discrimination kernels (0 = off)")
    # speed (docs/distributed.md): the gradient penalty runs the eager D, since compiled modules
    # have no double backward
    compile: bool = key(False, "torch.compile G and D in place (checkpoints unchanged; not for "
                               "text or conditional GANs)")
    channels_last: bool = key(False, "channels-last memory format for convolutional G and D")


@SCHEMA.general("pretrain")
@dataclass
class PretrainConfig:
    """MLE pre-training of a generator with a likelihood (a phase before the adversarial one)."""

    steps: int = key(0, "minibatch steps of teacher-forced maximum likelihood; 0 = none")
    lr: float = key(1e-2, "Adam learning rate of the pre-training (RelGAN: 1e-2)")
    # e.g. one pre-trained generator shared by every adversarial method; the data must match
    init_from: str | None = key(None, "start G from the generator of another run's checkpoint "
                                      "(a .pt file or a run directory)")
    # evals.jsonl rows {"phase": "pretrain", "step": k}: maximum likelihood gets curves too
    eval_every: int = key(0, "evaluate every K pre-training steps (curves of a maximum-likelihood "
                             "run); 0 = none")


@SCHEMA.general("objective")
@dataclass
class ObjectiveConfig:
    """The adversarial loss and its label tricks."""

    loss: str = key("nonsaturating", "the GAN loss", choices=LOSSES)
    label_smoothing: float = key(0.0, "one-sided: real target = 1 - label_smoothing")
    label_noise: float = key(0.0, "flip probability (mode flip) or jitter half-width (mode "
                                  "uniform)")
    label_noise_mode: str = key("flip", "how label_noise perturbs the labels",
                                choices=("flip", "uniform"))
    feature_matching: float = key(0.0, "weight of the feature-matching generator loss (0 = off)")
    feature_matching_only: bool = key(False, "use feature matching instead of the adversarial "
                                             "G loss")


@dataclass
class GradientPenaltyConfig:
    """The gradient penalty (WGAN-GP, WGAN-LP, R1-style lazy regularisation)."""

    weight: float = key(0.0, "lambda; 0 = off")
    target: float = key(1.0, "the norm the penalty pulls towards")
    one_sided: bool = key(False, "penalise only norms above target (WGAN-LP style)")
    every: int = key(1, "lazy regularisation (StyleGAN2): the penalty on every k-th critic step, "
                        "weighted k * lambda")


@dataclass
class ConsistencyConfig:
    """The consistency term of CT-GAN (two dropout passes of the critic)."""

    weight: float = key(0.0, "lambda_2 of CT-GAN; 0 = off")
    feature_weight: float = key(0.1, "weight of the penultimate-feature term")
    margin: float = key(0.0, "the margin M'")


@SCHEMA.general("lipschitz")
@dataclass
class LipschitzConfig:
    """Keeping the critic Lipschitz: clipping, penalties, spectral normalisation."""

    weight_clip: float = key(0.0, "clip every critic weight to [-c, c] after each step; 0 = off")
    gradient_penalty: GradientPenaltyConfig = section(GradientPenaltyConfig)
    consistency: ConsistencyConfig = section(ConsistencyConfig)
    spectral_norm: bool = key(False, "spectral normalisation on every critic layer")


@SCHEMA.general("schedule")
@dataclass
class ScheduleConfig:
    """How many critic and generator steps make one iteration."""

    n_critic: int = key(1, "discriminator steps per iteration")
    n_gen: int = key(1, "generator steps per iteration")
    d_warmup: int = key(0, "discriminator-only steps before training")
    same_z_for_gen_steps: bool = key(False, "reuse one latent batch for the n_gen generator "
                                            "steps")


@SCHEMA.general("optim")
@dataclass
class OptimConfig:
    """Adam for every network: learning rates, betas, decay, clipping, precision."""

    g_lr: float = key(2e-4, "generator learning rate")
    d_lr: float = key(2e-4, "critic learning rate (TTUR: set it apart from g_lr)")
    c_lr: float = key(2e-4, "ratio classifier learning rate (variational methods)")
    betas: tuple[float, float] = key((0.5, 0.999), "Adam's (beta1, beta2), e.g. [0.5, 0.9]")
    lr_decay: str = key("none", "learning-rate schedule: none or linear (to 0 at the last step)",
                        choices=("none", "linear"))
    grad_clip: float = key(0.0, "max gradient norm for every network; 0 = off")
    c_grad_clip: float = key(0.5, "gradient-norm clip of the ratio classifier")
    # the gradient penalty is always computed in fp32
    precision: str = key("fp32", "fp32, bf16 (autocast, CPU or GPU) or fp16 (autocast + "
                                 "GradScaler, GPU only)", choices=("fp32", "bf16", "fp16"))


@SCHEMA.general("ema")
@dataclass
class EmaConfig:
    """Exponential moving average of the generator's weights."""

    decay: float = key(0.0, "EMA decay of the generator weights; 0 = off (e.g. 0.999)")
    start: int = key(0, "iteration at which averaging starts (copy before)")


@SCHEMA.general("augment")
@dataclass
class AugmentConfig:
    """Differentiable augmentation (DiffAugment) of real and fake images alike."""

    policy: str = key("", "comma list of translation, cutout, color (images only); \"\" = off",
                      choices=("translation", "cutout", "color"))
    probability: float = key(1.0, "chance each batch is augmented")


@SCHEMA.general("replay")
@dataclass
class ReplayConfig:
    """A buffer of old fakes mixed into the critic's fake batches."""

    size: int = key(0, "old fakes kept for D; 0 = off")
    fraction: float = key(0.0, "share of each fake batch drawn from the buffer")


@SCHEMA.general("unrolled")
@dataclass
class UnrolledConfig:
    """Unrolled GANs: the generator looks a few critic steps ahead."""

    steps: int = key(0, "unrolled discriminator steps in the generator update; 0 = off")
    lr: float | None = key(None, "SGD step of the unrolled copy (null: optim.d_lr)")


@SCHEMA.general("variational")
@dataclass
class VariationalConfig:
    """PPO-GAN: importance re-weighting and probability-ratio clipping (Wu et al. 2020)."""

    reweight: bool = key(False, "importance weights w = B softmax(f(x_fake)/T) on the critic's "
                                "fakes")
    temperature: float = key(1.0, "the temperature T of the importance weights")
    clip: bool = key(False, "probability-ratio clipping of the generator (Eq. 5)")
    eps: float = key(0.4, "the clip range: r kept in [1 - eps, 1 + eps]")
    clip_mode: str = key("paper", "paper (Eq. 5) or reference (the authors' code: "
                                  "f * min(r, 1+eps))", choices=("paper", "reference"))
    advantage: str = key("raw", "what plays PPO's advantage: the critic value raw, centered or "
                                "normalized", choices=("raw", "centered", "normalized"))
    # classifier: the authors' code, log r = l_old(x_old) - l(x_new); classifier_same_x: Eq. 6 as
    # printed, log r = l^(t)(x) - l(x) with a frozen copy C^(t) taken at the phase's start (r = 1
    # at theta_old); exact: log p_theta(x) - log p_old(x) (a generator with a log-likelihood)
    ratio: str = key("classifier", "how r is estimated: classifier (the authors' code), "
                                   "classifier_same_x (Eq. 6 as printed) or exact (log p)",
                     choices=("classifier", "classifier_same_x", "exact"))
    # joint: C trains on one concatenated real+fake batch and r's logits use eval mode (running
    # statistics); authors: train mode everywhere, reals and fakes pass separately when C trains
    # and r's logits are computed on pure (all-fake) batches
    classifier_bn: str = key("joint", "C's BatchNorm: joint (one real+fake batch, eval-mode r) "
                                      "or authors (train mode, pure batches)",
                             choices=("joint", "authors"))
    classifier_warmup: int = key(0, "ratio-classifier steps before training")
    classifier_lr_divide: bool = key(False, "C and G learning rates divided by n_gen (the "
                                            "authors' code)")
    # per_phase: the same n_gen C steps at the start of the phase, then C held fixed, so that
    # r = 1 exactly at theta_old
    classifier_schedule: str = key("per_step", "per_step (one C step before each G step, the "
                                               "authors) or per_phase (C fixed over the phase)",
                                   choices=("per_step", "per_phase"))
    # false: r is detached, so it only decides where the clip binds (a trust-region mask on
    # grad f); classifier ratio only
    ratio_gradient: bool = key(True, "G's gradient flows through r and f (the paper); false: r "
                                     "only masks where the clip binds")
    # that step is still taken, as in CleanRL
    target_kl: float = key(0.0, "CleanRL's target_kl: stop the phase's generator steps once a "
                                "step's approx-KL exceeds it; 0 = off")


@SCHEMA.general("eval")
@dataclass
class EvalConfig:
    """Evaluation during and after training: metrics, feature space, best checkpoint."""

    every: int = key(0, "evaluate every K iterations during training; 0 = only at the end")
    n_samples: int = key(2500, "generated (and real) samples per evaluation")
    metrics: list[str] = key(doc="metric names (stablegan metrics); empty = the data's default "
                                 "set", factory=list)
    # auto: points -> coordinates; images -> the domain classifier when one is found
    # (classifier_path, RUN/classifier.pt, the cache) or can be trained in seconds (small
    # labelled data), else inception when its weights are on disk, else pixels (see
    # stablegan.evaluation)
    extractor: str = key("auto", "feature space of fid/kid/is/prdc/memorisation: auto, pixels, "
                                 "classifier, inception or a registered extractor")
    classifier_path: str | None = key(None, "domain classifier .pt (stablegan classifier train)")
    inception_weights: str | None = key(None, "local weights-inception-2015-12-05-6726825d.pth")
    k: int = key(5, "nearest neighbours of precision/recall/density/coverage")
    best_metric: str | None = key(None, "keep checkpoints/best.pt by this metric")
    best_mode: str = key("min", "whether best_metric is better low (min) or high (max)",
                         choices=("min", "max"))
    patience: int = key(0, "early stop after this many evaluations without improvement; 0 = off")
    bleu_hypotheses: int = key(200, "text: generated sentences scored by BLEU against the test "
                                    "set (TextGAN-PyTorch 200, RelGAN 100)")
    self_bleu_hypotheses: int = key(200, "text: generated sentences scored by self-BLEU against "
                                         "the rest of the evaluation set")


@SCHEMA.general("log")
@dataclass
class LogConfig:
    """What a run writes and how often."""

    every: int = key(1, "write metrics.jsonl every K iterations")
    sample_every: int = key(0, "sample grid from fixed noise every K iterations; 0 = steps // 10")
    checkpoint_every: int = key(0, "checkpoint every K iterations; 0 = steps // 10")
    tensorboard: bool = key(True, "write event files when tensorboard is installed")
    progress: bool = key(True, "live progress bar")
    loss_variance_window: int = key(50, "window of the rolling loss variance")


@SCHEMA.general("fault")
@dataclass
class FaultConfig:
    """Non-finite values: roll back to the last good checkpoint and retry."""

    max_rollbacks: int = key(3, "roll back and retry this many times before giving up")
    lr_factor: float = key(0.5, "multiply learning rates by this after each rollback")


@SCHEMA.general("health")
@dataclass
class HealthConfig:
    """Training-health alarms (stablegan.training.health); each fires once."""

    enabled: bool = key(True, "compute the training-health alarms")
    fail_on: list[str] = key(doc="alarms that stop the run; [all] = every one", factory=list,
                             choices=("all",) + HEALTH_ALARMS)
    every: int = key(0, "diversity check every K iterations; 0 = max(1, steps // 20)")
    ess_fraction: float = key(0.1, "ess_collapse: weights/ess / batch size below this")
    ratio_min: float = key(0.2, "ratio_mean: ratio/mean below this ...")
    ratio_max: float = key(5.0, "... or above this")
    ratio_std: float = key(10.0, "ratio_std: ratio/std above this")
    accuracy: float = key(0.999, "classifier_saturated: classifier/accuracy >= this ...")
    accuracy_rows: int = key(20, "... for this many consecutive rows")
    spike_factor: float = key(10.0, "loss_var_spike / grad_spike: value > factor x running "
                                    "median")
    spike_window: int = key(50, "rows in that running median")
    burn_in: int = key(200, "iterations before the spike and diversity alarms may fire")
    diversity: float = key(0.1, "diversity_collapse: sample spread / real spread below this")
    # mode_coverage (toy mixtures, from the periodic evaluations; warns, never stops a run)
    coverage_drop: float = key(0.25, "mode_coverage: the mode count at or below (1 - "
                                     "coverage_drop) x its best ...")
    coverage_floor: float = key(0.5, "... or below coverage_floor x the modes from half the "
                                     "budget on")


@SCHEMA.general("dist")
@dataclass
class DistConfig:
    """Data-parallel training under torchrun (docs/distributed.md); ignored in one process."""

    sync_batchnorm: bool = key(False, "BatchNorm statistics over the global batch (G and D)")
    # true: scores all-gathered, the same weights as one process
    global_weights: bool = key(True, "variational.reweight: the softmax of the weights over the "
                                     "global batch (true) or each rank's slice")
    backend: str = key("auto", "auto (nccl on CUDA, gloo on CPU), gloo or nccl",
                       choices=("auto", "gloo", "nccl"))


@dataclass
class Config:
    """One run: the method, the budget, and a section per ingredient."""

    method: str = key("nsgan", "method preset (stablegan methods)")
    seed: int = key(0, "random seed (fixes the whole run)")
    steps: int = key(2000, "training iterations (each: n_critic D steps + n_gen G steps)")
    device: str = key("cpu", "cpu, cuda or cuda:N")
    threads: int = key(0, "torch CPU threads (--threads N); 0 = OMP_NUM_THREADS, else 1")
    description: str = key("", "free text (a recipe says what it is for)")
    data: DataConfig = section(DataConfig)
    model: ModelConfig = section(ModelConfig)
    pretrain: PretrainConfig = section(PretrainConfig)
    objective: ObjectiveConfig = section(ObjectiveConfig)
    lipschitz: LipschitzConfig = section(LipschitzConfig)
    schedule: ScheduleConfig = section(ScheduleConfig)
    optim: OptimConfig = section(OptimConfig)
    ema: EmaConfig = section(EmaConfig)
    augment: AugmentConfig = section(AugmentConfig)
    replay: ReplayConfig = section(ReplayConfig)
    unrolled: UnrolledConfig = section(UnrolledConfig)
    variational: VariationalConfig = section(VariationalConfig)
    eval: EvalConfig = section(EvalConfig)
    log: LogConfig = section(LogConfig)
    fault: FaultConfig = section(FaultConfig)
    health: HealthConfig = section(HealthConfig)
    dist: DistConfig = section(DistConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


# the tasks' sections (conditional, style) follow the general ones
Config = SCHEMA.compose_root(Config)  # type: ignore[misc]


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------
# The keys, and building a Config from nested dicts, with validation
# --------------------------------------------------------------------------------------------


def keys() -> list[KeyInfo]:
    """Every key of ``Config``: path, type, default, description, allowed values, owner."""
    return describe(Config, owners=SCHEMA.owners)


def key_info(path: str) -> KeyInfo:
    """The :class:`KeyInfo` of one dotted key (ConfigError with "did you mean" if unknown)."""
    for info in keys():
        if info.path == path:
            return info
    raise unknown_key_error(path)


def sections() -> list[SectionInfo]:
    """Every section of ``Config`` (nested ones too) with its description and owner."""
    return describe_sections(Config, owners=SCHEMA.owners)


def explain(path: str | None = None, cfg: Config | None = None) -> str:
    """What ``stablegan config [KEY]`` prints: YAML with a comment on every line.

    No ``path``: every key, grouped by section, with its description, type and owner (and its
    default where ``cfg`` holds another value). A section: its keys the same way. A key: the
    line ``KEY: VALUE`` and comments with its description, type, default, owner and allowed
    values. VALUE is ``cfg``'s (a resolved config) or the default. ConfigError (with "did you
    mean") for an unknown key."""
    values = cfg.to_dict() if cfg is not None else None
    infos, secs = keys(), sections()
    if path:
        leaf = [i for i in infos if i.path == path]
        if leaf:
            return _explain_key(leaf[0], values)
        if not any(s.path == path for s in secs):
            raise unknown_key_error(path)
        infos = [i for i in infos if i.path.startswith(path + ".")]
    return annotated_yaml(infos, secs, values)


def _explain_key(info: KeyInfo, values: dict[str, Any] | None) -> str:
    value: Any = info.default if values is None else lookup(values, info.path)
    lines = [f"{info.path}: {yaml_value(value)}", f"# {info.doc}",
             f"# type: {info.type}; default: {yaml_value(info.default)}; owner: {info.owner}"]
    if info.choices:
        lines.append(f"# allowed: {', '.join(info.choices)}")
    return "\n".join(lines) + "\n"


def all_keys(cls: type | None = None, prefix: str = "") -> list[str]:
    """Every dotted key of the config schema (for suggestions and docs)."""
    return _all_keys(cls or Config, prefix)


def unknown_key_error(full: str, cls: type | None = None, prefix: str = "",
                      value: Any = None) -> ConfigError:
    """ConfigError for the unknown dotted key ``full`` (met in section ``cls`` under ``prefix``;
    default: the top level) with the closest known key or section as a hint."""
    return _unknown_key_error(full, cls or Config, prefix, value, Config)


def build(data: dict[str, Any]) -> Config:
    """A validated Config from one complete nested dict (no method preset applied: that is the
    job of :func:`stablegan.configure.resolve`, a level above the schema)."""
    cfg = build_section(Config, data)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Reject impossible values with a message naming the key: the general helpers, then every
    task's own validation (stablegan.taskconfig), in the order they were registered."""
    _validate_run(cfg)
    _validate_data(cfg)
    _validate_model(cfg)
    _validate_objective(cfg)
    _validate_lipschitz(cfg)
    _validate_schedule(cfg)
    _validate_optim(cfg)
    _validate_tricks(cfg)
    _validate_variational(cfg)
    _validate_eval(cfg)
    _validate_log(cfg)
    SCHEMA.validate(cfg)


def _validate_run(cfg: Config) -> None:
    """steps, seed, device, threads (and pretrain.*: its phase may run alone)"""
    lone = [("pretrain.steps > 0: maximum likelihood alone", cfg.pretrain.steps > 0)]
    lone += [(words, runs(cfg)) for words, runs in SCHEMA.lone_phases]
    check(cfg.steps >= 1 or (cfg.steps == 0 and any(ok for _, ok in lone)),
          "steps", f"must be at least 1 (0 only with {', or '.join(w for w, _ in lone)}), got "
                   f"{cfg.steps}")
    check(cfg.seed >= 0, "seed", f"must be >= 0, got {cfg.seed}")
    check(cfg.device in ("cpu", "cuda") or cfg.device.startswith("cuda:"), "device",
          f"must be cpu, cuda or cuda:N, got '{cfg.device}'")
    check(cfg.threads >= 0, "threads", f"must be >= 0 (0: OMP_NUM_THREADS or the default), "
          f"got {cfg.threads}")
    check(cfg.pretrain.steps >= 0, "pretrain.steps", "must be >= 0")
    check(cfg.pretrain.lr > 0, "pretrain.lr", "must be a positive learning rate")
    check(cfg.pretrain.eval_every >= 0, "pretrain.eval_every", "must be >= 0 (0 = none)")


def _validate_data(cfg: Config) -> None:
    """data.*"""
    d = cfg.data
    check(d.batch_size >= 2, "data.batch_size", f"must be at least 2, got {d.batch_size}")
    check(0.0 <= d.holdout_fraction < 1.0, "data.holdout_fraction", "must be in [0, 1)")
    check(d.image_size is None or d.image_size >= 4, "data.image_size", "must be >= 4")
    check(d.channels in (None, 1, 3), "data.channels", "must be 1 or 3")
    check(d.max_items is None or d.max_items >= 1, "data.max_items", "must be >= 1")


def _validate_model(cfg: Config) -> None:
    """model.*"""
    m = cfg.model
    check_choice(m, "model.name")
    check(m.flow_layers >= 1, "model.flow_layers", "must be >= 1")
    check(m.latent_dim >= 1, "model.latent_dim", f"must be >= 1, got {m.latent_dim}")
    check(m.hidden >= 1, "model.hidden", "must be >= 1")
    check(m.layers >= 1, "model.layers", "must be >= 1")
    check(m.channels >= 1, "model.channels", "must be >= 1")
    check_choice(m, "model.d_norm")
    check(0.0 <= m.d_dropout < 1.0, "model.d_dropout", "must be in [0, 1)")
    check(m.minibatch_discrimination >= 0, "model.minibatch_discrimination", "must be >= 0")


def _validate_objective(cfg: Config) -> None:
    """objective.*"""
    o = cfg.objective
    check_choice(o, "objective.loss")
    check(0.0 <= o.label_smoothing < 0.5, "objective.label_smoothing", "must be in [0, 0.5)")
    check_choice(o, "objective.label_noise_mode")
    check(0.0 <= o.label_noise < 0.5, "objective.label_noise", "must be in [0, 0.5)")
    bce = o.loss in ("minimax", "nonsaturating")
    check(bce or (o.label_smoothing == 0 and o.label_noise == 0), "objective.label_smoothing",
           f"and objective.label_noise apply to minimax/nonsaturating losses, not '{o.loss}'")
    check(o.feature_matching >= 0, "objective.feature_matching", "must be >= 0")


def _validate_lipschitz(cfg: Config) -> None:
    """lipschitz.* (the consistency term also needs model.d_dropout)"""
    lp = cfg.lipschitz
    check(lp.weight_clip >= 0, "lipschitz.weight_clip", "must be >= 0")
    check(lp.gradient_penalty.weight >= 0, "lipschitz.gradient_penalty.weight", "must be >= 0")
    check(lp.gradient_penalty.target > 0, "lipschitz.gradient_penalty.target", "must be > 0")
    check(lp.gradient_penalty.every >= 1, "lipschitz.gradient_penalty.every", "must be >= 1")
    check(lp.consistency.weight >= 0, "lipschitz.consistency.weight", "must be >= 0")
    check(lp.consistency.feature_weight >= 0, "lipschitz.consistency.feature_weight",
           "must be >= 0")
    check(lp.consistency.weight == 0 or cfg.model.d_dropout > 0,
           "lipschitz.consistency.weight", "needs a critic with dropout (two dropout passes)",
           hint="also set model.d_dropout, e.g. --set model.d_dropout=0.2")


def _validate_schedule(cfg: Config) -> None:
    """schedule.*"""
    s = cfg.schedule
    check(s.n_critic >= 1, "schedule.n_critic", f"must be at least 1, got {s.n_critic}")
    check(s.n_gen >= 1, "schedule.n_gen", f"must be at least 1, got {s.n_gen}")
    check(s.d_warmup >= 0, "schedule.d_warmup", "must be >= 0")


def _validate_optim(cfg: Config) -> None:
    """optim.*"""
    op = cfg.optim
    for k in ("g_lr", "d_lr", "c_lr"):
        v = getattr(op, k)
        check(v > 0, f"optim.{k}", f"must be a positive learning rate, got {v}")
    check(all(0.0 <= b < 1.0 for b in op.betas), "optim.betas", "must both be in [0, 1)")
    check_choice(op, "optim.lr_decay")
    check(op.grad_clip >= 0, "optim.grad_clip", "must be >= 0")
    check(op.c_grad_clip >= 0, "optim.c_grad_clip", "must be >= 0")
    check_choice(op, "optim.precision")
    check(op.precision != "fp16" or cfg.device.startswith("cuda"), "optim.precision",
           "fp16 needs a CUDA device (a GradScaler guards fp16 gradients on the GPU); on the "
           "CPU use bf16", hint="--set optim.precision=bf16, or --set device=cuda")
    check_choice(cfg.dist, "dist.backend")
    check(not cfg.dist.sync_batchnorm or cfg.device.startswith("cuda"), "dist.sync_batchnorm",
           "needs device=cuda (torch's SyncBatchNorm runs on GPUs only)",
           hint="on the CPU each rank's BatchNorm uses its slice of the batch; leave it false")


def _validate_tricks(cfg: Config) -> None:
    """ema.*, augment.*, replay.*, unrolled.*"""
    check(0.0 <= cfg.ema.decay < 1.0, "ema.decay", "must be in [0, 1)")
    check(cfg.ema.start >= 0, "ema.start", "must be >= 0")
    allowed = choices_of(AugmentConfig, "policy")
    for p in [p.strip() for p in cfg.augment.policy.split(",") if p.strip()]:
        choice(p, "augment.policy", allowed)
    check(0.0 <= cfg.augment.probability <= 1.0, "augment.probability", "must be in [0, 1]")
    check(cfg.replay.size >= 0, "replay.size", "must be >= 0")
    check(0.0 <= cfg.replay.fraction < 1.0, "replay.fraction", "must be in [0, 1)")
    check(cfg.replay.fraction == 0 or cfg.replay.size > 0, "replay.fraction",
           "needs a replay buffer", hint="also set replay.size, e.g. --set replay.size=10000")
    check(cfg.unrolled.steps >= 0, "unrolled.steps", "must be >= 0")
    check(cfg.unrolled.lr is None or cfg.unrolled.lr > 0, "unrolled.lr", "must be > 0")


def _validate_variational(cfg: Config) -> None:
    """variational.*"""
    v = cfg.variational
    check(v.temperature > 0, "variational.temperature", "must be > 0")
    check(0.0 < v.eps < 1.0, "variational.eps", f"must be in (0, 1), got {v.eps}")
    check_choice(v, "variational.clip_mode")
    check_choice(v, "variational.advantage")
    check_choice(v, "variational.ratio")
    check_choice(v, "variational.classifier_bn")
    check(not (v.ratio == "classifier_same_x" and v.classifier_schedule == "per_phase"),
           "variational.classifier_schedule",
           "per_phase with variational.ratio=classifier_same_x holds C equal to its frozen copy "
           "for the whole phase, so r = 1 everywhere; use per_step")
    check_choice(v, "variational.classifier_schedule")
    check(v.classifier_warmup >= 0, "variational.classifier_warmup", "must be >= 0")
    check(math.isfinite(v.target_kl) and v.target_kl >= 0, "variational.target_kl",
           f"must be >= 0 (0 = off), got {v.target_kl}")
    check(v.ratio_gradient or v.ratio != "exact", "variational.ratio_gradient",
           "must be true with variational.ratio=exact",
           hint="the exact ratio's critic values are detached, so with r detached as well the "
                "generator would get no gradient")


def _validate_eval(cfg: Config) -> None:
    """eval.*"""
    e = cfg.eval
    check(e.every >= 0, "eval.every", "must be >= 0")
    check(e.n_samples >= 2, "eval.n_samples", "must be >= 2")
    check_choice(e, "eval.best_mode")
    check(e.patience >= 0, "eval.patience", "must be >= 0")
    check(e.patience == 0 or (e.best_metric is not None and e.every > 0), "eval.patience",
           "needs eval.best_metric and eval.every > 0")
    check(e.k >= 1, "eval.k", f"must be >= 1, got {e.k}")
    check(e.bleu_hypotheses >= 1, "eval.bleu_hypotheses", "must be >= 1")
    check(e.self_bleu_hypotheses >= 1, "eval.self_bleu_hypotheses", "must be >= 1")
    for name in ("classifier_path", "inception_weights"):
        check(getattr(e, name) != "", f"eval.{name}", "must be a file path (or left unset)")


def _validate_log(cfg: Config) -> None:
    """log.*, fault.*"""
    lg = cfg.log
    check(lg.every >= 1, "log.every", "must be >= 1")
    check(lg.sample_every >= 0, "log.sample_every", "must be >= 0")
    check(lg.checkpoint_every >= 0, "log.checkpoint_every", "must be >= 0")
    check(lg.loss_variance_window >= 2, "log.loss_variance_window", "must be >= 2")
    check(cfg.fault.max_rollbacks >= 0, "fault.max_rollbacks", "must be >= 0")
    check(0.0 < cfg.fault.lr_factor <= 1.0, "fault.lr_factor", "must be in (0, 1]")
    h = cfg.health
    for name in h.fail_on:
        choice(name, "health.fail_on", choices_of(HealthConfig, "fail_on"))
    check(h.every >= 0, "health.every", "must be >= 0")
    check(0.0 < h.ess_fraction <= 1.0, "health.ess_fraction", "must be in (0, 1]")
    check(0.0 < h.ratio_min < 1.0 < h.ratio_max, "health.ratio_min",
           f"and health.ratio_max must satisfy 0 < ratio_min < 1 < ratio_max, got "
           f"{h.ratio_min:g} and {h.ratio_max:g}")
    check(h.ratio_std > 0, "health.ratio_std", "must be > 0")
    check(0.0 < h.accuracy <= 1.0, "health.accuracy", "must be in (0, 1]")
    check(h.accuracy_rows >= 1, "health.accuracy_rows", "must be >= 1")
    check(h.spike_factor > 1.0, "health.spike_factor", "must be > 1")
    check(h.spike_window >= 2, "health.spike_window", "must be >= 2")
    check(h.burn_in >= 0, "health.burn_in", "must be >= 0")
    check(0.0 < h.diversity < 1.0, "health.diversity", "must be in (0, 1)")
    check(0.0 < h.coverage_drop < 1.0, "health.coverage_drop", "must be in (0, 1)")
    check(0.0 <= h.coverage_floor <= 1.0, "health.coverage_floor", "must be in [0, 1]")
