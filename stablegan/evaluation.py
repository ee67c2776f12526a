"""What ``stablegan eval``, periodic evaluation and the final evaluation compute for a generator.

:func:`evaluate_generator` is called by the trainer (``eval.every``, the end of training) and by
``stablegan eval --run DIR``. Keys are ``<metric>/<space>``: the space (the feature extractor)
that produced the number is always named, so ``fid/classifier`` and ``fid/inception`` never mix.

Sample sets (``n`` = ``eval.n_samples`` or ``--n``):

* infinite data (toy mixtures): ``n`` fakes, ``n`` reals of the train split as the reference and
  ``n`` independent reals of the held-out split for the floor;
* finite data: ``m = min(n, N_train // 2)`` fakes and two disjoint halves of ``m`` training
  items, the first the reference, the second the floor candidate (``n_eval`` = m; a note says
  when ``m < n``).

Every key ``K`` also comes as ``floor/K``: the same metric with the second real half in place of
the fakes, i.e. what a perfect generator would score with this many samples. For memorisation
the "training set" is both halves together and the floor is the data's held-out split (how often
genuinely new data lands within the near-duplicate radius of the training set); data without a
held-out split, and toy data, use the reference half and the floor half instead.

Metrics (``eval.metrics``; empty = the default set):

* points: ``modes`` (``modes``, ``hq_fraction``, ``reverse_kl``: the PacGAN/VEEGAN protocol,
  for mixtures with known modes) and ``swd`` (key ``swd``, in the data's own coordinates);
* images: ``swd/pixels`` always; plus, in the feature space chosen by ``eval.extractor``:
  ``fid``, ``kid``, ``precision``/``recall``/``density``/``coverage`` (alias ``prdc``, with
  ``eval.k`` neighbours), ``swd`` (in the feature space), ``memorisation`` (near-duplicate share,
  with ``nearest_pairs.png`` written to the run directory at the final evaluation) and, with class
  predictions, ``is`` and ``class_coverage``/``class_kl`` (alias ``class``: classes covered and
  KL to the data's class distribution, both judged by the domain classifier). The default set is
  all of these that apply (FID only up to 2,048 feature dimensions; class metrics and IS only with
  a classifier, IS also with Inception).

``eval.extractor``:

* ``auto`` (default): points use their coordinates. Images use the domain classifier when one is
  found (``eval.classifier_path``, ``RUN/classifier.pt``, the cache; see
  :mod:`stablegan.classifier`) or the data is labelled with 500 to 10,000 training items
  (``AUTO_TRAIN_MIN_ITEMS``, ``AUTO_TRAIN_MAX_ITEMS``; digits: trained once in ~5 s, then
  cached); else
  ``inception`` when its weights file is on disk (``eval.inception_weights`` or torch-fidelity's
  cache) and torch-fidelity imports; else ``pixels``, with a note saying how to get a classifier.
* ``classifier``, ``inception``, ``pixels`` or any name given to
  :func:`stablegan.metrics.register_extractor`: exactly that space; a missing classifier or
  Inception weights file is an error that says which file, where, and what to use offline.

The final evaluation (not the periodic ones) also carries ``n_eval``, ``num_classes/<s>``,
``memorisation_threshold/<s>`` (constants of the setup) and the strings ``extractor`` (the space's
name), ``classifier`` (its file, with the classifier) and ``notes``.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stablegan.errors import ConfigError, DataError, ShapeError, StableganError
from stablegan.metrics.api import ALIASES, METRICS, OUTPUT_KEYS, evaluate
from stablegan.metrics.features import (
    INCEPTION_FILENAME,
    INCEPTION_URL,
    ClassifierExtractor,
    Extractor,
    available_extractors,
    get_extractor,
    inception_cache_path,
    load_domain_classifier,
)
from stablegan.metrics.toy import mode_metrics

EVAL_METRICS = (*METRICS, *ALIASES, "modes")
FID_MAX_DIM = 2048  # default sets skip FID above this many feature dimensions (covariance cost)
IS_SPLITS = 10
_PRDC = ("precision", "recall", "density", "coverage")
_CLASS = ("class_coverage", "class_kl")
_DROP = ("floor/num_classes/", "floor/memorisation_threshold/")  # repeats of the main value
_SETUP = ("num_classes/", "memorisation_threshold/")  # final evaluation only (with n_eval)
_EXTRACTORS: dict[tuple[Any, ...], Extractor] = {}  # loaded classifiers / Inception, per process


# --------------------------------------------------------------------------------- config checks
def _metric_list(metrics: Sequence[str] | str) -> list[str]:
    """``eval.metrics`` with aliases expanded, in order, without repeats."""
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m.strip()]
    out: list[str] = []
    for m in metrics:
        name = str(m).strip().lower()
        for n in ALIASES.get(name, (name,)):
            if n not in out:
                out.append(n)
    return out


def check_eval_metrics(metrics: Sequence[str]) -> None:
    """ConfigError naming ``eval.metrics`` for an unknown metric name."""
    for m in metrics:
        name = str(m).strip().lower()
        if name not in EVAL_METRICS:
            close = difflib.get_close_matches(name, EVAL_METRICS, n=1)
            guess = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(f"config key 'eval.metrics' names an unknown metric '{m}'",
                              hint=f"{guess}choose from {', '.join(EVAL_METRICS)} "
                                   "(or leave it empty for the data's default set)")


def check_eval_extractor(name: str) -> None:
    """ConfigError naming ``eval.extractor`` unless it is ``auto`` or a registered extractor."""
    choices = ["auto", *available_extractors()]
    if name not in choices:
        close = difflib.get_close_matches(str(name), choices, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"config key 'eval.extractor' must be one of {', '.join(choices)}; got '{name}'",
            hint=f"{guess}register your own with stablegan.metrics.register_extractor(name, "
                 "factory) before building the config")


def possible_keys(cfg: Any, data: Any) -> set[str]:
    """Every numeric key an evaluation of ``cfg`` on ``data`` can produce (a superset: which of
    them appear can depend on what is on disk when ``eval.extractor=auto``), without ``floor/``."""
    wanted = _metric_list(cfg.eval.metrics)
    metrics = [w for w in (wanted or METRICS) if w != "modes"]
    spaces = {"classifier"}  # class metrics are judged by the domain classifier
    if cfg.eval.extractor == "auto":
        spaces.update(available_extractors())
    else:
        spaces.add(cfg.eval.extractor)
    keys = {f"{k}/{s}" for m in metrics for k in OUTPUT_KEYS.get(m, (m,)) for s in spaces}
    if data.task == "images":
        keys.add("swd/pixels")
    else:
        keys.add("swd")
        if data.modes is not None and (not wanted or "modes" in wanted):
            keys.update(("modes", "hq_fraction", "reverse_kl"))
    return keys


def check_best_metric(cfg: Any, data: Any) -> None:
    """ConfigError naming ``eval.best_metric`` when no evaluation of this config can produce it."""
    key = cfg.eval.best_metric
    if not key:
        return
    keys = possible_keys(cfg, data)
    if key.removeprefix("floor/") in keys:
        return
    close = difflib.get_close_matches(key, sorted(keys), n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    shown = sorted(keys)
    listed = ", ".join(shown[:12]) + (f", ... ({len(shown)} in all)" if len(shown) > 12 else "")
    raise ConfigError(f"config key 'eval.best_metric' names '{key}', which no evaluation of "
                      f"data '{data.name}' with these eval.* settings produces",
                      hint=f"{guess}keys are <metric>/<feature space> for images (e.g. "
                           f"fid/classifier); possible here: {listed}")


def preflight(cfg: Any, data: Any, run_dir: Path | None = None) -> None:
    """Check the evaluation settings against the data before any training step, so a bad
    ``eval.*`` value fails at once rather than after the whole budget is spent: metric and
    extractor names, ``eval.best_metric``, and the files an explicit extractor needs (the
    Inception weights, fetched now if the cache is empty; a domain classifier, or data small
    enough to train one)."""
    check_eval_metrics(cfg.eval.metrics)
    check_eval_extractor(cfg.eval.extractor)
    wanted = _metric_list(cfg.eval.metrics)
    if "modes" in wanted and (data.task == "images" or data.modes is None):
        raise ConfigError(f"eval.metrics asks for 'modes' but data '{data.name}' has no known "
                          "modes", hint="'modes' is for toy mixtures (ring, grid)")
    check_best_metric(cfg, data)
    if cfg.eval.extractor == "inception":
        _inception_weights(cfg)
    elif cfg.eval.extractor == "classifier" and data.task == "images":
        if find_classifier(cfg, run_dir, data)[0] is None and not _can_auto_train(data):
            raise _no_classifier(cfg, data, run_dir)


# --------------------------------------------------------------------------------- helpers
class _Precomputed(Extractor):
    """Features that are already computed: returns its input and the logits stored for it."""

    def __init__(self, name: str, logits: dict[int, Tensor | None]) -> None:
        self.name = name
        self._logits = logits

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return x, self._logits.get(id(x))


def _classifier_hint(cfg: Any, run_dir: Path | None) -> str:
    from stablegan.classifier import default_classifier_path

    where = default_classifier_path(cfg.data)
    if cfg.data.name in ("digits", "mnist"):
        how = f"stablegan classifier train --recipe {cfg.data.name}"
    elif run_dir is not None:
        how = f"stablegan classifier train --config {run_dir / 'config.yaml'}"
    else:
        how = "stablegan classifier train --config YOUR_CONFIG.yaml"
    return f"train one with '{how}' (saved to {where}), or set eval.classifier_path=FILE"


def find_classifier(cfg: Any, run_dir: Path | None, data: Any = None,
                    notes: list[str] | None = None) -> tuple[Path | None, str]:
    """``(path, origin)`` of the classifier to use, or ``(None, "")``; origin is one of
    ``eval.classifier_path``, ``run`` or ``cache``. A set but missing ``eval.classifier_path``
    is an error; a run or cache file whose sidecar names other data than ``data`` is skipped."""
    from stablegan.classifier import default_classifier_path, matches_data

    if cfg.eval.classifier_path:
        path = Path(cfg.eval.classifier_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"eval.classifier_path: domain classifier file not found: {path}",
                              hint=_classifier_hint(cfg, run_dir))
        return path, "eval.classifier_path"
    candidates = [(default_classifier_path(cfg.data), "cache")]
    if run_dir is not None:
        candidates.insert(0, (run_dir / "classifier.pt", "run"))
    for path, origin in candidates:
        if not path.is_file():
            continue
        if data is not None and not matches_data(path, data):
            if notes is not None:
                notes.append(f"ignored {path}: its .json says it was trained on other data")
            continue
        return path, origin
    return None, ""


def _classifier_extractor(path: Path, device: str) -> Extractor:
    st = path.stat()
    key = ("classifier", str(path.resolve()), st.st_mtime_ns, st.st_size, device)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = ClassifierExtractor(load_domain_classifier(path), device=device)
    return _EXTRACTORS[key]


def _can_auto_train(data: Any) -> bool:
    from stablegan.classifier import AUTO_TRAIN_MAX_ITEMS, AUTO_TRAIN_MIN_ITEMS

    return (data.task == "images" and data.num_classes is not None and data.size is not None
            and AUTO_TRAIN_MIN_ITEMS <= data.size <= AUTO_TRAIN_MAX_ITEMS)


def _no_classifier(cfg: Any, data: Any, run_dir: Path | None) -> ConfigError:
    from stablegan.classifier import AUTO_TRAIN_MAX_ITEMS, AUTO_TRAIN_MIN_ITEMS

    why = ("its data has no labels" if data.num_classes is None else
           "its data is not a finite image set" if not data.size else
           f"its data has {data.size} labelled training items; one is trained on the fly "
           f"only for {AUTO_TRAIN_MIN_ITEMS} to {AUTO_TRAIN_MAX_ITEMS}")
    return ConfigError(f"eval.extractor=classifier but there is no domain classifier for "
                       f"data '{data.name}' ({why})", hint=_classifier_hint(cfg, run_dir))


def _classifier_for(cfg: Any, data: Any, run_dir: Path | None, device: str, notes: list[str],
                    *, train: bool) -> tuple[Extractor, Path] | None:
    """The domain classifier of this run (found, or trained now when ``train`` and the data is
    small and labelled), pinned to ``run_dir/classifier.pt``; None when there is none."""
    from stablegan.classifier import AUTO_TRAIN_EPOCHS, pin_to_run, train_classifier

    path, origin = find_classifier(cfg, run_dir, data, notes)
    if path is None and train and _can_auto_train(data):
        info = train_classifier(cfg, epochs=AUTO_TRAIN_EPOCHS, seed=0, data=data,
                                log=lambda msg: print(msg, file=sys.stderr))
        path, origin = Path(info["path"]), "cache"
        notes.append(f"trained a domain classifier for '{data.name}' on the fly (test accuracy "
                     f"{info['test_accuracy']:.3f})")
    if path is None:
        return None
    if origin == "cache" and run_dir is not None:
        try:
            path = pin_to_run(path, run_dir)
        except OSError as err:
            print(f"warning: could not copy the classifier into {run_dir}: {err}",
                  file=sys.stderr)
    return _classifier_extractor(path, device), path


def _inception_missing(path: Path, why: str, given: bool) -> DataError:
    where = ("set eval.inception_weights=FILE to where you put it" if given else
             "put it there, or anywhere and set eval.inception_weights=FILE")
    return DataError(
        f"Inception-v3 weights {why}: the file {INCEPTION_FILENAME} was expected at {path}",
        hint=f"download {INCEPTION_URL} on a machine with internet and {where}; offline, use "
             "the domain classifier instead: 'stablegan classifier train --recipe digits' (or "
             "--config your config) and --set eval.extractor=classifier")


def _inception_weights(cfg: Any) -> Path:
    """The Inception-v3 weights file: ``eval.inception_weights``, else torch-fidelity's cache,
    downloaded there first when it is empty (fails fast offline with a message)."""
    given = cfg.eval.inception_weights
    path = Path(given).expanduser() if given else inception_cache_path()
    if not path.is_file():
        if given:
            raise _inception_missing(path, "not found", True)
        try:  # torch-fidelity's cache is empty: try to download (fails fast offline)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(INCEPTION_URL, str(path), progress=False)
        except Exception as exc:  # noqa: BLE001 - offline, proxy, disk: all mean "no file"
            raise _inception_missing(path, f"are not on disk and could not be downloaded "
                                           f"({exc.__class__.__name__})", False) from exc
    return path


def _inception(cfg: Any, device: str) -> Extractor:
    path = _inception_weights(cfg)
    key = ("inception", str(path.resolve()), device)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = get_extractor("inception", weights_path=path, download=False,
                                         device=device)
    return _EXTRACTORS[key]


def _inception_on_disk(cfg: Any) -> bool:
    given = cfg.eval.inception_weights
    return (Path(given).expanduser() if given else inception_cache_path()).is_file()


def choose_extractor(cfg: Any, data: Any, run_dir: Path | None = None, device: str = "cpu",
                     notes: list[str] | None = None) -> tuple[Extractor, Path | None]:
    """The feature extractor for ``cfg.eval.extractor`` (see the module docstring) and, for the
    classifier, its file."""
    notes = notes if notes is not None else []
    name = cfg.eval.extractor
    if name == "auto":
        if data.task != "images":
            return get_extractor("pixels"), None
        found = _classifier_for(cfg, data, run_dir, device, notes, train=True)
        if found is not None:
            return found
        if _inception_on_disk(cfg):
            try:
                return _inception(cfg, device), None
            except StableganError as err:
                notes.append(f"inception unavailable ({err.message})")
        notes.append(f"no domain classifier for data '{data.name}', so fid/kid/prdc are in pixel "
                     f"space: {_classifier_hint(cfg, run_dir)}")
        return get_extractor("pixels"), None
    if name == "classifier":
        found = _classifier_for(cfg, data, run_dir, device, notes, train=True)
        if found is None:
            raise _no_classifier(cfg, data, run_dir)
        return found
    if name == "inception":
        return _inception(cfg, device), None
    return get_extractor(name), None


def _extract(ext: Extractor, x: Tensor, what: str, source: Path | None) -> tuple[Tensor,
                                                                                   Tensor | None]:
    feats, logits = ext.extract(x)
    feats = feats.detach().reshape(feats.shape[0], -1).cpu()
    if feats.shape[0] != x.shape[0]:
        raise DataError(f"extractor '{ext.name}' returned {feats.shape[0]} feature rows for "
                        f"{x.shape[0]} {what}", hint="an extractor returns one row per sample")
    for tensor, kind in ((feats, "features"), (logits, "logits")):
        if tensor is None:
            continue
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            fix = (f"the classifier file {source} is broken: retrain it with 'stablegan "
                   "classifier train'" if source is not None else
                   "check the extractor (its weights or its input range)")
            raise DataError(f"the '{ext.name}' {kind} of the {what} contain {bad} NaN/inf "
                            f"value(s) out of {tensor.numel()}", hint=fix)
    return feats, (logits.detach().cpu() if logits is not None else None)


def _minimum(metric: str, k: int) -> tuple[int, str]:
    if metric in _PRDC:
        return k + 1, (f"with eval.k={k} every sample needs {k} other samples for its k-th "
                       "nearest neighbour")
    if metric == "is":
        return IS_SPLITS, f"IS averages over {IS_SPLITS} splits of the generated samples"
    if metric in ("fid", "kid", "memorisation"):
        return 2, {"fid": "a covariance needs at least 2 samples",
                   "kid": "the unbiased MMD estimate needs 2 samples per set",
                   "memorisation": "the near-duplicate radius needs 2 training samples"}[metric]
    return 1, "a metric needs samples"


def _check_counts(metrics: Sequence[str], m: int, n: int, k: int, data: Any) -> None:
    """DataError for the metric with the largest unmet minimum sample count."""
    failing = [(metric, *_minimum(metric, k)) for metric in metrics]
    failing = sorted((f for f in failing if m < f[1]), key=lambda f: -f[1])
    if failing:
        metric, need, why = failing[0]
        if m < n:
            raise DataError(
                f"data '{data.name}' has {data.size} training items: the real-vs-real floor "
                f"splits them into two halves of {m}, fewer than the {need} samples metric "
                f"'{metric}' needs ({why})",
                hint="use more data (data.max_items, data.holdout_fraction), or leave "
                     f"'{metric}' out of eval.metrics" + (" / lower eval.k" if metric in _PRDC
                                                          else ""))
        raise DataError(
            f"{m} generated sample(s) are too few for metric '{metric}': at least {need} are "
            f"needed ({why})",
            hint=f"evaluate with at least {need} samples ('stablegan eval --n {need}' or --set "
                 f"eval.n_samples={need})" + (", or lower eval.k" if metric in _PRDC else ""))


def _check_samples(fake: Tensor, real: Tensor, data: Any) -> None:
    want = tuple(int(s) for s in data.sample_shape)
    got = tuple(fake.shape[1:])
    if got != want or tuple(real.shape[1:]) != want:
        what = "samples"
        if len(got) == 3 and len(want) == 3:
            parts = []
            if got[0] != want[0]:
                parts.append(f"{got[0]} channel(s) instead of {want[0]}")
            if got[1:] != want[1:]:
                parts.append(f"{got[1]}x{got[2]} pixels instead of {want[1]}x{want[2]}")
            what = "images with " + " and ".join(parts) if parts else what
        raise ShapeError(
            f"the generator produced {what} (per-sample shape {got}) but the real data "
            f"'{data.name}' has per-sample shape {want}; they cannot be compared",
            hint="evaluate the run with the data it was trained on (data.name, data.path, "
                 "data.image_size, data.channels in its config.yaml)")
    bad = int((~torch.isfinite(fake)).sum())
    if bad:
        raise DataError(
            f"the generator produced {bad} NaN/inf value(s) in {fake.shape[0]} samples, so no "
            "metric can be computed",
            hint="the generator diverged: evaluate an earlier checkpoint ('stablegan eval "
                 "--checkpoint best.pt') or retrain with lower learning rates")


def _is_final(trainer: Any) -> bool:
    """True for the last evaluation of training and for ``stablegan eval`` of a finished run;
    False for the periodic evaluations during training (inferred: see the trainer note)."""
    if getattr(trainer, "_final_phase", False):
        return True
    step, cfg = getattr(trainer, "step", None), trainer.cfg
    if step is None or step >= cfg.steps:
        return True
    return not (cfg.eval.every and step % cfg.eval.every == 0)


def _save_pairs(fake: Tensor, train: Tensor, ff: Tensor, ft: Tensor, run_dir: Path) -> None:
    from stablegan.metrics import save_nearest_pairs_png

    path = run_dir / "nearest_pairs.png"
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".nearest_pairs.", suffix=".png")
    os.close(fd)
    try:
        save_nearest_pairs_png(fake, train, tmp, k=8, fake_features=ff, train_features=ft,
                               value_range=(-1.0, 1.0))
        os.replace(tmp, path)
    except (OSError, StableganError) as err:
        print(f"warning: could not write {path}: {err}", file=sys.stderr)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _default_image_metrics(space: str, dim: int, has_logits: bool, has_classifier: bool,
                           notes: list[str]) -> list[str]:
    metrics = ["fid", "kid", *_PRDC, "swd", "memorisation"]
    if dim > FID_MAX_DIM:
        metrics.remove("fid")
        notes.append(f"fid/{space} skipped: {dim} feature dimensions (> {FID_MAX_DIM}); add "
                     "'fid' to eval.metrics to compute it anyway")
    if space == "pixels":
        metrics.remove("swd")  # swd/pixels is always there
    if has_logits and space in ("classifier", "inception"):
        metrics.insert(2, "is")
    if has_classifier:
        metrics += list(_CLASS)
    return metrics


# --------------------------------------------------------------------------------- evaluation
def evaluate_generator(trainer: Any, n: int, *, final: bool | None = None) -> dict[str, Any]:
    """The metrics of ``trainer``'s generator on ``n`` samples (see the module docstring).

    ``trainer`` needs ``data`` (a DataSource), ``cfg``, ``sample(n)``, and optionally
    ``out_dir``, ``step`` and ``device``. ``final`` (default: inferred) adds the string entries
    and writes ``nearest_pairs.png``.
    """
    cfg, data = trainer.cfg, trainer.data
    ecfg = cfg.eval
    run_dir = Path(trainer.out_dir) if getattr(trainer, "out_dir", None) is not None else None
    device = str(getattr(trainer, "device", "cpu"))
    final = _is_final(trainer) if final is None else final
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"the number of evaluation samples must be an integer >= 2, got {n!r}",
                          hint="pass --n 1000 (or --set eval.n_samples=1000)")
    check_eval_metrics(ecfg.metrics)
    wanted = _metric_list(ecfg.metrics)
    k = int(ecfg.k)
    notes: list[str] = []

    # ---- the sample sets
    if data.size is None:  # fresh samples: memorisation then compares with ref only
        m = n
        ref, floor_set = data.reals(m, "train"), data.reals(m, "holdout")
        held = None
    else:
        pool = data.reals(2 * n, "train")
        m = min(n, len(pool) // 2)
        ref, floor_set = pool[:m], pool[m:2 * m]
        held = data.reals(m, "holdout")
        if m < n:
            notes.append(f"{m} samples per set instead of {n}: data '{data.name}' has "
                         f"{data.size} training items, split into two disjoint halves for the "
                         "floor")
    if m < 1:
        raise DataError(f"data '{data.name}' has too few training items ({data.size}) to evaluate",
                        hint="the floor needs two disjoint halves of at least one item each")
    fake = trainer.sample(m).detach().cpu()
    _check_samples(fake, ref, data)
    if held is not None and len(held) < 2:
        held = None

    out: dict[str, Any] = {}
    if data.task != "images":
        if not wanted:
            wanted = (["modes"] if data.modes is not None else []) + ["swd"]
        if "modes" in wanted:
            if data.modes is None or data.mode_std is None:
                raise ConfigError(f"eval.metrics asks for 'modes' but data '{data.name}' has no "
                                  "known modes", hint="'modes' is for toy mixtures (ring, grid)")
            out.update(mode_metrics(fake, data.modes, data.mode_std))
            out.update({f"floor/{key}": v
                        for key, v in mode_metrics(floor_set, data.modes, data.mode_std).items()})
        wanted = [w for w in wanted if w != "modes"]
        space, source = "pixels", None
        feats = {"fake": fake.reshape(m, -1), "ref": ref.reshape(m, -1),
                 "floor": floor_set.reshape(len(floor_set), -1)}
        if held is not None:
            feats["held"] = held.reshape(len(held), -1)
        logits: dict[str, Tensor | None] = {}
        if ecfg.extractor not in ("auto", "pixels"):
            chosen, source = choose_extractor(cfg, data, run_dir, device, notes)
            space = chosen.name
            for key, x in (("fake", fake), ("ref", ref), ("floor", floor_set), ("held", held)):
                if x is not None:
                    feats[key], logits[key] = _extract(chosen, x, key, source)
        class_src = None
    else:
        if "modes" in wanted:
            raise ConfigError(f"eval.metrics asks for 'modes' but data '{data.name}' holds images",
                              hint="'modes' is for toy mixtures (ring, grid); for images use "
                                   "'class' (class coverage by the domain classifier)")
        # SWD in pixel space, always
        out.update(evaluate(fake, ref, ["swd"], "pixels", real_holdout=floor_set, seed=0))
        out.pop("extractor", None)
        chosen, source = choose_extractor(cfg, data, run_dir, device, notes)
        space = chosen.name
        names = {"fake": "generated samples", "ref": "real samples (reference half)",
                 "floor": "real samples (floor half)", "held": "held-out real samples"}
        feats, logits = {}, {}
        for key, x in (("fake", fake), ("ref", ref), ("floor", floor_set), ("held", held)):
            if x is not None:
                feats[key], logits[key] = _extract(chosen, x, names[key], source)
        # class predictions: the domain classifier (the space itself, or found on disk)
        class_src = None
        if space == "classifier":
            class_src = ("classifier", logits)
        elif any(w in wanted for w in (*_CLASS, "is")) or not wanted:
            found = _classifier_for(cfg, data, run_dir, device, notes, train=False)
            if found is not None:
                cls_ext, cls_path = found
                class_src = ("classifier", {key: _extract(cls_ext, x, names[key], cls_path)[1]
                                            for key, x in (("fake", fake), ("ref", ref),
                                                           ("floor", floor_set))})
            elif logits.get("fake") is not None and wanted:
                class_src = (space, logits)
        if not wanted:
            wanted = _default_image_metrics(space, feats["fake"].shape[1],
                                            logits.get("fake") is not None,
                                            class_src is not None and class_src[0] == "classifier",
                                            notes)
        if space == "pixels":
            wanted = [w for w in wanted if w != "swd"]
    ext = _Precomputed(space, {id(feats[key]): logits.get(key) for key in feats})

    _check_counts(wanted, m, n, k, data)
    if "is" in wanted and ext._logits.get(id(feats["fake"])) is None:
        raise ConfigError(f"metric 'is' needs class logits, which the '{space}' features lack",
                          hint="use --set eval.extractor=classifier (or inception), or leave "
                               "'is' out of eval.metrics")
    dist = [w for w in wanted if w not in (*_CLASS, "memorisation")]
    if dist:
        res = evaluate(feats["fake"], feats["ref"], dist, ext, real_holdout=feats["floor"], k=k,
                       seed=0, is_splits=IS_SPLITS)
        if "notes" in res:
            notes.append(str(res["notes"]))
        out.update({key: v for key, v in res.items() if key not in ("extractor", "notes")})
    if any(w in _CLASS for w in wanted):
        if class_src is None:
            raise ConfigError(f"class metrics need class predictions, and there is no domain "
                              f"classifier for data '{data.name}'",
                              hint=_classifier_hint(cfg, run_dir))
        cname, clogits = class_src
        sets = {key: clogits[key] for key in ("fake", "ref", "floor")}
        cext = _Precomputed(cname, {id(v): v for v in sets.values()})
        res = evaluate(sets["fake"], sets["ref"], [w for w in wanted if w in _CLASS], cext,
                       real_holdout=sets["floor"], num_classes=int(sets["fake"].shape[1]))
        out.update({key: v for key, v in res.items() if key not in ("extractor", "notes")})
    if "memorisation" in wanted:
        if held is not None:
            train_f = torch.cat([feats["ref"], feats["floor"]])
            train_x = torch.cat([ref, floor_set])
            res = evaluate(feats["fake"], train_f, ["memorisation"], ext,
                           real_holdout=feats["held"], seed=0)
        else:
            train_f, train_x = feats["ref"], ref
            res = evaluate(feats["fake"], train_f, ["memorisation"], ext,
                           real_holdout=feats["floor"], seed=0)
        out.update({key: v for key, v in res.items() if key not in ("extractor", "notes")})
        if final and run_dir is not None and data.task == "images":
            _save_pairs(fake, train_x, feats["fake"], train_f, run_dir)
    if data.task != "images" and space == "pixels":  # toy data: plain "swd" (its coordinates)
        for key in ("swd/pixels", "floor/swd/pixels"):
            if key in out:
                out[key.replace("swd/pixels", "swd")] = out.pop(key)
    out = {key: v for key, v in out.items() if not key.startswith(_DROP)}
    if not final:  # constants of the setup: kept out of the curves of periodic evaluations
        return {key: v for key, v in out.items() if not key.startswith(_SETUP)}
    out["n_eval"] = m
    out["extractor"] = space
    if source is not None:
        out["classifier"] = str(source)
    if notes:
        out["notes"] = "; ".join(notes)
    return out
