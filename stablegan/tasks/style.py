"""Style: text style transfer on labelled sentences (data ``yelp-style``, ``text-style``).

* A training item is a sentence's ``max_len`` ids followed by its label (``StyleSource``).
* The generator is the :class:`~stablegan.models.style.StyleAutoencoder`; the critic is the
  latent adversary on its content codes (the pair is ``StylePair``, or ``LatentPair`` with
  ``style.adversary=prior``), so the "fakes" the checks see are codes of shape ``(z_dim,)``.
* The method is :class:`~stablegan.methods.style.StyleMethod` (chosen for this task by
  ``stablegan.methods.method_for``), under any objective preset (``nsgan``, ``wgan-gp``,
  ``ppo-gan``, ...).
* The prior (the fixed display input) is the first ``n_display`` sentences of the test split
  with their labels; samples are their transfers to the other style, written as
  ``input => output`` lines.
* Evaluation transfers the test sentences (up to ``style.eval_max_sentences``) to the other
  style and computes the registered style metrics (``stablegan.metrics.style``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from stablegan.errors import ConfigError, ShapeError
from stablegan.metrics.registry import Side, get_metric
from stablegan.metrics.style import EvalClassifier, default_style_metrics, transfer_batches
from stablegan.models.style import LatentCritic, SentenceCritic, StyleAutoencoder, StyleClassifier
from stablegan.tasks.base import EvalSets, Task


class StyleTask(Task):
    name = "style"
    n_display = 20
    sample_suffix = ".txt"
    sample_batch = 256

    def __init__(self, data: Any, cfg: Any) -> None:
        super().__init__(data, cfg)
        self._eval_classifier: Any = None

    # ------------------------------------------------------------------ drawing
    def test_packed(self, n: int | None = None) -> Tensor:
        """The test sentences and labels, packed (ids then label), in file order."""
        d = self.data
        packed = torch.cat([d.test_ids, d.test_labels[:, None]], 1)
        return packed if n is None else packed[:n]

    def prior(self, n: int, latent_dim: int, device: torch.device | str = "cpu",
              generator: torch.Generator | None = None) -> Tensor:
        pool = self.test_packed()
        reps = -(-n // len(pool))
        return pool.repeat(reps, 1)[:n].to(device)

    # ------------------------------------------------------------------ models
    def build_models(self, model_cfg: Any) -> tuple[nn.Module, nn.Module]:
        st, d = self.cfg.style, self.data
        G = StyleAutoencoder(d.vocab_size, d.max_len, d.num_styles, st.embed_dim, st.hidden,
                             st.z_dim, st.c_dim, st.attention)
        return G, LatentCritic(st.z_dim, st.critic_hidden)

    def build_classifier(self, model_cfg: Any) -> nn.Module:
        st, d = self.cfg.style, self.data
        return StyleClassifier(d.vocab_size, d.num_styles, st.embed_dim, st.classifier_filters,
                               st.classifier_dropout)

    def build_sentence_critic(self) -> nn.Module:
        st, d = self.cfg.style, self.data
        return SentenceCritic(d.vocab_size, d.num_styles, st.embed_dim, st.sentence_filters)

    # ------------------------------------------------------------------ checks
    def check_fake(self, fake: Tensor) -> None:
        want = (int(self.cfg.style.z_dim),)
        if tuple(fake.shape[1:]) != want:
            raise ShapeError(f"the encoder produced codes of shape {tuple(fake.shape[1:])}; the "
                             f"latent critic expects {want} (style.z_dim)",
                             hint="build the autoencoder with the configured style.z_dim")

    # ------------------------------------------------------------------ people
    def lines(self, inputs: Tensor, outputs: Tensor) -> list[str]:
        d = self.data
        ids, labels = inputs[:, :-1], inputs[:, -1]
        names = d.label_names
        return [f"[{names[int(y)]}->{names[(int(y) + 1) % d.num_styles]}] {a} => {b}"
                for y, a, b in zip(labels, d.decode(ids), d.decode(outputs))]

    def render(self, samples: Tensor, path: Path, title: str = "") -> None:
        text = "\n".join(self.sample_lines(samples)) + "\n"
        Path(path).write_text(text, encoding="utf-8")

    def sample_lines(self, samples: Tensor) -> list[str]:
        if len(samples) <= len(self.test_packed()):
            return self.lines(self.test_packed(len(samples)), samples)
        return self.data.decode(samples)

    # ------------------------------------------------------------------ evaluation
    def default_metrics(self, ecfg: Any) -> list[str]:
        return default_style_metrics(self.data)

    def check_metric_applies(self, name: str) -> None:
        if get_metric(name).group != "style":
            raise ConfigError(f"eval.metrics asks for '{name}', which does not apply to style "
                              "transfer", hint="style metrics: style_accuracy, own_accuracy, "
                                               "bleu_ref, content_bleu, geo_mean, "
                                               "z_style_accuracy")
        if name == "bleu_ref" and self.data.test_references is None:
            raise ConfigError(f"eval.metrics asks for 'bleu_ref' but data '{self.data.name}' "
                              "has no human references",
                              hint="add sentiment.test.reference (one line per test sentence)")

    def eval_sets(self, sampler: Any, n: int) -> EvalSets:
        inputs = self.test_packed(min(n, self.cfg.style.eval_max_sentences))
        empty = torch.empty(0)
        return EvalSets(inputs, inputs, empty, None, len(inputs), n,
                        [f"{len(inputs)} sentences of the {self.data.test_split} split "
                         "transferred to the other style"])

    def eval_classifier(self, run_dir: Path | None) -> Any:
        if self._eval_classifier is None:
            self._eval_classifier = EvalClassifier.load_or_train(self, run_dir)
        return self._eval_classifier

    def metrics(self, sets: EvalSets, ecfg: Any, *, run_dir: Path | None = None,
                device: str = "cpu", final: bool = True) -> dict[str, Any]:
        wanted = self.wanted_metrics(ecfg)
        for name in wanted:
            self.check_metric_applies(name)
        self._run_dir = run_dir
        G = sets.generator
        inputs = sets.fake
        targets = (inputs[:, -1] + 1) % self.data.num_styles
        outputs = transfer_batches(G, inputs[:, :-1], targets, self.sample_batch)
        sets.fake = outputs
        out = super().metrics(sets, ecfg, run_dir=run_dir, device=device, final=final)
        if final:
            out["samples"] = self.lines(inputs[:10], outputs[:10])
        return out

    def metric_options(self, ecfg: Any) -> dict[str, Any]:
        return {**super().metric_options(ecfg), "run_dir": getattr(self, "_run_dir", None)}

    def side(self, name: str, x: Tensor) -> Any:
        return Side(name, x)
