"""Evaluation metrics for GANs: FID, KID, IS, PRDC, SWD, mode and class coverage, memorisation.

Start with :func:`evaluate`; the functions below it work on features you already have.
"""

from stablegan.metrics import style as _style_metrics  # noqa: F401 - registers style metrics
from stablegan.metrics import text as _text_metrics  # noqa: F401 - registers the text metrics
from stablegan.metrics.api import METRICS, evaluate
from stablegan.metrics.coverage import class_coverage, class_histogram, histogram_kl
from stablegan.metrics.features import (
    DomainClassifier,
    Extractor,
    available_extractors,
    get_extractor,
    inception_cache_path,
    load_domain_classifier,
    register_extractor,
    save_domain_classifier,
    train_domain_classifier,
)
from stablegan.metrics.frechet import (
    fid_from_features,
    frechet_distance,
    inception_score_from_logits,
    kid_from_features,
)
from stablegan.metrics.memorisation import (
    MemorisationResult,
    memorisation,
    near_duplicate_threshold,
    nearest_neighbours,
    save_nearest_pairs_png,
)
from stablegan.metrics.prdc import prdc
from stablegan.metrics.swd import sliced_wasserstein
from stablegan.metrics.toy import mode_metrics

__all__ = [
    "METRICS",
    "DomainClassifier",
    "Extractor",
    "MemorisationResult",
    "available_extractors",
    "class_coverage",
    "class_histogram",
    "evaluate",
    "fid_from_features",
    "frechet_distance",
    "get_extractor",
    "histogram_kl",
    "inception_cache_path",
    "inception_score_from_logits",
    "kid_from_features",
    "load_domain_classifier",
    "memorisation",
    "mode_metrics",
    "near_duplicate_threshold",
    "nearest_neighbours",
    "prdc",
    "register_extractor",
    "save_domain_classifier",
    "save_nearest_pairs_png",
    "sliced_wasserstein",
    "train_domain_classifier",
]
