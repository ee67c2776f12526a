"""Style-transfer metrics, registered in the metric registry (group ``style``).

The evaluation transfers the test sentences (Yelp: the 1,000 of ``sentiment.manual``) to the
other style; the fake side holds the outputs' ids, the reference side the inputs (ids + label).

* ``style_accuracy``: share of outputs that a separately trained CNN sentiment classifier
  (:class:`EvalClassifier`, trained on the training split for ``style.eval_classifier_epochs``,
  seed 0, cached as ``RUN/style_classifier.pt``) assigns to the target style. Also written:
  ``style_classifier_holdout_accuracy`` (that classifier on the validation split) and
  ``style_accuracy_inputs`` (on the untransferred test inputs with their own labels).
* ``own_accuracy``: the same share judged by the model's own classifier C (the method's
  ``evaluation_models()["own_classifier"]``, handed to the metrics as ``ctx.opts["models"]``;
  absent when the evaluation was given no such model).
* ``bleu_ref``: BLEU-4 of each output against its one human reference, nltk ``sentence_bleu``
  with smoothing method4, averaged over the sentences
  (:func:`stablegan.metrics.bleu.pairwise_bleu`); only with references.
* ``content_bleu``: corpus BLEU-4 of the outputs against their inputs (content preservation;
  nltk ``corpus_bleu``, no smoothing).
* ``geo_mean``: ``sqrt(style_accuracy * bleu_ref)`` (``content_bleu`` without references).
* ``z_style_accuracy``: how much style the content code z still carries. A fresh probe (an MLP
  like the latent adversary's, :func:`probe_accuracy`) is trained on the encoder's codes of up to
  ``PROBE_TRAIN_SENTENCES`` training sentences to predict their style, and its balanced accuracy
  (the mean over styles of the share recognised) is measured on the codes of the held-out
  validation sentences (the test split when there is none). Chance, 1/K (0.5 for two styles),
  means style is gone from z; 1 that z alone gives the style away.

BLEU values are in [0, 1] (multiply by 100 for the papers' scale). No floor is computed.
:func:`plot_tradeoff` draws the accuracy / BLEU trade-off over a swept weight (Fig. 4 of
Wu et al. 2020).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from stablegan.metrics.bleu import corpus_bleu, pairwise_bleu
from stablegan.metrics.registry import Context, Metric, Side, register_metric

FORMAT = "stablegan-style-classifier"
STYLE_METRICS = ("style_accuracy", "own_accuracy", "bleu_ref", "content_bleu", "geo_mean",
                 "z_style_accuracy")
PROBE_TRAIN_SENTENCES = 10_000


def default_style_metrics(data: Any) -> list[str]:
    return [m for m in STYLE_METRICS if m != "bleu_ref" or data.test_references is not None]


@torch.no_grad()
def transfer_batches(G: Any, ids: Tensor, targets: Tensor, batch: int = 256) -> Tensor:
    """Greedy transfers of ``ids`` to ``targets`` with G in eval mode (CPU ids)."""
    was = G.training
    G.eval()
    device = next(G.parameters()).device
    try:
        out = [G.transfer(ids[i:i + batch].to(device), targets[i:i + batch].to(device)).cpu()
               for i in range(0, len(ids), batch)]
    finally:
        G.train(was)
    return torch.cat(out) if out else ids[:0]


@torch.no_grad()
def predict(classifier: Any, ids: Tensor, batch: int = 512) -> Tensor:
    was = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    try:
        return torch.cat([classifier(ids[i:i + batch].to(device)).argmax(1).cpu()
                          for i in range(0, len(ids), batch)])
    finally:
        classifier.train(was)


class EvalClassifier:
    """The separately trained CNN sentiment classifier of the style-accuracy metric."""

    def __init__(self, model: Any, holdout_accuracy: float) -> None:
        self.model, self.holdout_accuracy = model, holdout_accuracy

    @classmethod
    def train(cls, task: Any, epochs: int, seed: int = 0, batch: int = 128,
              log: Any = None) -> EvalClassifier:
        from stablegan.models.style import StyleClassifier

        d = task.data
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = StyleClassifier(d.vocab_size, d.num_styles, 64, 100, 0.5)
            x = d.reals(10**9, "train")
            ids, labels = x[:, :-1], x[:, -1]
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            gen = torch.Generator().manual_seed(seed)
            model.train()
            for _ in range(max(1, epochs)):
                perm = torch.randperm(len(ids), generator=gen)
                for i in range(0, len(ids) - batch + 1, batch):
                    j = perm[i:i + batch]
                    loss = F.cross_entropy(model(ids[j]), labels[j])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
        held = d.reals(10**9, "holdout")
        acc = (float((predict(model, held[:, :-1]) == held[:, -1]).float().mean())
               if len(held) else float("nan"))
        return cls(model, acc)

    @classmethod
    def load_or_train(cls, task: Any, run_dir: Path | None) -> EvalClassifier:
        path = Path(run_dir) / "style_classifier.pt" if run_dir is not None else None
        key = {"vocab": task.data.vocab.fingerprint, "labels": list(task.data.label_names),
               "epochs": task.cfg.style.eval_classifier_epochs, "size": task.data.size}
        if path is not None and path.is_file():
            try:  # tensors and plain containers only: never unpickle code
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - a damaged or foreign file is retrained
                state = {}
            if isinstance(state, dict) and state.get("format") == FORMAT \
                    and state.get("key") == key:
                from stablegan.models.style import StyleClassifier

                model = StyleClassifier(task.data.vocab_size, task.data.num_styles, 64, 100, 0.5)
                model.load_state_dict(state["model"])
                return cls(model, float(state["holdout_accuracy"]))
        out = cls.train(task, task.cfg.style.eval_classifier_epochs)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save({"format": FORMAT, "key": key, "model": out.model.state_dict(),
                        "holdout_accuracy": out.holdout_accuracy}, tmp)
            tmp.replace(path)
        return out


def probe_accuracy(train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor,
                   num_classes: int, *, seed: int = 0, epochs: int = 20, batch: int = 256,
                   hidden: int = 128, lr: float = 1e-3) -> float:
    """Balanced accuracy on ``(test_z, test_y)`` of a fresh MLP probe (two hidden layers of
    ``hidden`` LeakyReLU(0.2) units) trained with Adam for ``epochs`` passes of cross-entropy on
    ``(train_z, train_y)``, inputs standardised with the training codes' mean and std. The
    balanced accuracy is the mean, over the classes present in ``test_y``, of the share of that
    class predicted right, so a probe that learns nothing scores 1/K whatever the classes'
    shares. Seeded (``seed``) without touching the global random state."""
    train_z, test_z = train_z.detach().float().cpu(), test_z.detach().float().cpu()
    train_y, test_y = train_y.long().cpu(), test_y.long().cpu()
    mean, std = train_z.mean(0), train_z.std(0).clamp(min=1e-6)
    a, b = (train_z - mean) / std, (test_z - mean) / std
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = torch.nn.Sequential(
            torch.nn.Linear(a.shape[1], hidden), torch.nn.LeakyReLU(0.2),
            torch.nn.Linear(hidden, hidden), torch.nn.LeakyReLU(0.2),
            torch.nn.Linear(hidden, num_classes))
        opt = torch.optim.Adam(probe.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            perm = torch.randperm(len(a), generator=gen)
            for i in range(0, len(a), batch):
                j = perm[i:i + batch]
                loss = F.cross_entropy(probe(a[j]), train_y[j])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = probe(b).argmax(1)
    recalls = [(pred[test_y == k] == k).float().mean() for k in range(num_classes)
               if bool((test_y == k).any())]
    return float(torch.stack(recalls).mean())


@torch.no_grad()
def encode_batches(G: Any, ids: Tensor, batch: int = 512) -> Tensor:
    """Content codes ``G.encode(ids)`` (CPU) with G in eval mode."""
    was = G.training
    G.eval()
    device = next(G.parameters()).device
    try:
        return torch.cat([G.encode(ids[i:i + batch].to(device)).float().cpu()
                          for i in range(0, len(ids), batch)])
    finally:
        G.train(was)


def z_style_accuracy(task: Any, G: Any, seed: int = 0) -> float:
    """The ``z_style_accuracy`` metric of the module doc for the encoder of ``G``."""
    d = task.data
    train = d.reals(PROBE_TRAIN_SENTENCES, "train")
    held = d.reals(10**9, "holdout")
    if not len(held):
        held = task.test_packed()
    return probe_accuracy(encode_batches(G, train[:, :-1]), train[:, -1],
                          encode_batches(G, held[:, :-1]), held[:, -1], d.num_styles, seed=seed)


def _tokens(task: Any, ids: Tensor) -> list[list[str]]:
    return [s.split() for s in task.data.decode(ids)]


def _style(fake: Side, real: Side, ctx: Context) -> dict[str, float]:
    """Every wanted member of the style group from one pass."""
    task = ctx.task
    wanted = set(ctx.opts.get("wanted") or STYLE_METRICS)
    inputs, outputs = real.x, fake.x
    targets = (inputs[:, -1] + 1) % task.data.num_styles
    out: dict[str, float] = {}
    need_bleu = {"bleu_ref", "content_bleu", "geo_mean"} & wanted
    has_refs = task.data.test_references is not None
    if "style_accuracy" in wanted or "geo_mean" in wanted:
        clf = task.eval_classifier(ctx.opts.get("run_dir"))
        out["style_accuracy"] = float((predict(clf.model, outputs) == targets).float().mean())
        out["style_classifier_holdout_accuracy"] = clf.holdout_accuracy
        out["style_accuracy_inputs"] = float(
            (predict(clf.model, inputs[:, :-1]) == inputs[:, -1]).float().mean())
    own = (ctx.opts.get("models") or {}).get("own_classifier")  # method.evaluation_models()
    if "own_accuracy" in wanted and own is not None:
        out["own_accuracy"] = float((predict(own, outputs) == targets).float().mean())
    if need_bleu:
        hyps = _tokens(task, outputs)
        if has_refs and ({"bleu_ref", "geo_mean"} & wanted):
            refs = task.data.test_references[: len(hyps)]
            scores = pairwise_bleu(hyps, refs, 4, "method4")
            out["bleu_ref"] = sum(scores) / len(scores)
        if "content_bleu" in wanted or ("geo_mean" in wanted and not has_refs):
            srcs = _tokens(task, inputs[:, :-1])
            out["content_bleu"] = corpus_bleu([[s] for s in srcs], hyps, 4)
    if "geo_mean" in wanted:
        b = out["bleu_ref"] if has_refs else out["content_bleu"]
        out["geo_mean"] = math.sqrt(max(out["style_accuracy"], 0.0) * max(b, 0.0))
    G = ctx.opts.get("generator")
    if "z_style_accuracy" in wanted and callable(getattr(G, "encode", None)):
        out["z_style_accuracy"] = z_style_accuracy(task, G)
    keep = {k for m in wanted for k in _KEYS.get(m, (m,))}
    return {k: v for k, v in out.items() if k in keep}


_KEYS = {"style_accuracy": ("style_accuracy", "style_classifier_holdout_accuracy",
                            "style_accuracy_inputs")}
_DESC = {
    "style_accuracy": "share of transferred sentences a separate CNN classifier assigns to the "
                      "target style",
    "own_accuracy": "the same, judged by the model's own style classifier",
    "bleu_ref": "BLEU-4 (method4) against one human reference per sentence, averaged",
    "content_bleu": "corpus BLEU-4 of the outputs against their inputs",
    "geo_mean": "geometric mean of style_accuracy and bleu_ref (content_bleu without refs)",
    "z_style_accuracy": "balanced accuracy of a fresh MLP probe predicting the style from the "
                        "content code z on held-out sentences (chance 1/K = style-free z)",
}
for _name in STYLE_METRICS:
    register_metric(Metric(_name, _style, needs="samples", keys=_KEYS.get(_name, (_name,)),
                           group="style", floor=False, description=_DESC[_name]))


def plot_tradeoff(points: list[dict[str, Any]], path: str | Path, x: str = "bleu_ref",
                  y: str = "style_accuracy", label: str = "weight") -> Path:
    """Accuracy against BLEU, one marker per run, annotated with its swept ``label`` value
    (Wu et al. 2020, Fig. 4); ``points`` are eval.json dicts with ``label`` added."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        groups.setdefault(str(p.get("method", "")), []).append(p)
    for name, pts in groups.items():
        pts = sorted(pts, key=lambda p: p[label])
        ax.plot([p[x] * 100 for p in pts], [p[y] * 100 for p in pts], "o-", label=name or None)
        for p in pts:
            ax.annotate(f"{p[label]:g}", (p[x] * 100, p[y] * 100), fontsize=8,
                        textcoords="offset points", xytext=(3, 3))
    ax.set_xlabel(f"{x} (x100)")
    ax.set_ylabel(f"{y} (%)")
    ax.set_title(f"accuracy / content trade-off over {label}")
    if any(groups):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
