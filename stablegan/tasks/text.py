"""Text: sentences of ``max_len`` token ids (the oracle, COCO captions, EMNLP news, any corpus).

* The critic sees one-hots ``(B, max_len, V)``: exact one-hots of data sentences (given as
  token ids, which the discriminator embeds by lookup: the same numbers), the
  generator's Gumbel-softmax relaxation ``softmax(beta * (logits + g))`` of its own (RelGAN);
  ``beta = model.beta_scale * schedule(i, N)`` is annealed from 1 to ``model.beta_max``
  (``model.beta_schedule``, RelGAN's schedules) over ``N = model.beta_steps`` adversarial steps
  (5,000 as RelGAN and TextGAN hard-code it; 0 = the run's adversarial step budget).
* The prior is empty, ``(n, 0)``: a text generator's randomness is its Gumbel noise.
* Samples are token ids in evaluation form (``argmax`` of the relaxed one-hots), shown as a text
  file of decoded sentences, one per line.
* Metrics (registered in ``stablegan.metrics.text``): BLEU-2..5 against the whole test set,
  self-BLEU-2..5, NLL_oracle (oracle data), NLL_gen (the generator's per-token NLL of the
  training set over all positions, the published convention) beside ``nll_gen_test`` (the test
  split), and the number of unique n-grams.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stablegan.errors import ConfigError, ShapeError
from stablegan.metrics.bleu import BleuReferences
from stablegan.metrics.registry import expand, get_metric
from stablegan.models.text import RelGANDiscriminator, build_text_models, temperature
from stablegan.tasks.base import EvalSets, Task


class MeanScore(nn.Module):
    """A multi-representation discriminator as a classifier: its logit is the mean of the K
    representation scores (the ratio classifier C needs one logit per sample)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        s = self.inner(x)
        return s.mean(dim=1) if s.dim() == 2 else s


class TextTask(Task):
    name = "text"
    n_display = 20  # sentences in each step's sample file
    sample_suffix = ".txt"
    sample_batch = 128  # relaxed one-hots are (B, T, V): keep sampling batches small
    overfit_check = True

    def __init__(self, data: Any, cfg: Any) -> None:
        super().__init__(data, cfg)
        self._bleu_index: Any = None

    # ------------------------------------------------------------------ the vocabulary
    @property
    def vocab_size(self) -> int:
        vocab = getattr(self.data, "vocab", None)
        return len(vocab) if vocab is not None else int(self.data.vocab_size)

    @property
    def max_len(self) -> int:
        return int(self.data.sample_shape[0])

    @property
    def has_specials(self) -> bool:
        """Corpora have <pad>/<eos>; the oracle's ids are plain words."""
        return getattr(self.data, "vocab", None) is not None

    def tokens(self, ids: Tensor) -> list[list[str]]:
        return [s.split() for s in self.data.decode(ids)]

    def references(self) -> list[list[str]]:
        """The BLEU references: every sentence of the held-out (test) split."""
        if hasattr(self.data, "sentences"):
            return self.data.sentences("holdout")
        held = self.data.reals(10**9, "holdout")
        return self.tokens(held)

    def bleu_index(self) -> Any:
        if self._bleu_index is None:
            self._bleu_index = BleuReferences(self.references(), max_order=5)
        return self._bleu_index

    # ------------------------------------------------------------------ drawing
    def real_batch(self, n: int) -> Tensor:
        # token ids (n, max_len): the discriminator embeds them by lookup, the same numbers as
        # its linear map of their one-hots without building the (n, max_len, V) one-hot
        return self.data.sample(n)

    def prior(self, n: int, latent_dim: int, device: torch.device | str = "cpu",
              generator: torch.Generator | None = None) -> Tensor:
        return torch.zeros(n, latent_dim, device=device)

    def critic_view(self, x: Tensor) -> Tensor:
        if x.is_floating_point():
            return x
        return F.one_hot(x.long(), self.vocab_size).to(torch.float32)

    def to_eval(self, x: Tensor) -> Tensor:
        return x.argmax(dim=-1) if x.is_floating_point() else x

    def before_iteration(self, method: Any, index: int, total: int) -> None:
        if hasattr(method.G, "beta"):
            m = self.cfg.model
            n = m.beta_steps or max(total, 1)
            method.G.beta = m.beta_scale * temperature(index, n, m.beta_max, m.beta_schedule)

    # ------------------------------------------------------------------ models
    def build_models(self, model_cfg: Any) -> tuple[nn.Module, nn.Module]:
        name = "relgan" if model_cfg.name == "auto" else model_cfg.name
        g = ({"g_embed_dim": model_cfg.embed_dim, "g_mem_slots": model_cfg.mem_slots,
              "g_num_heads": model_cfg.num_heads, "g_head_size": model_cfg.head_size}
             if name == "relgan" else
             {"g_embed_dim": model_cfg.embed_dim, "g_hidden_dim": model_cfg.lstm_hidden})
        return build_text_models(self.vocab_size, self.max_len, name, **g,
                                 **self._d_sizes(model_cfg))

    def _d_sizes(self, model_cfg: Any) -> dict[str, Any]:
        return {"d_embed_dim": model_cfg.d_embed_dim, "d_num_rep": model_cfg.num_rep,
                "d_num_filters": (model_cfg.d_filters,) * 4}

    def build_classifier(self, model_cfg: Any) -> nn.Module:
        """The authors' ratio classifier on text: a second RelGAN discriminator."""
        sizes = {k[2:]: v for k, v in self._d_sizes(model_cfg).items()}
        return MeanScore(RelGANDiscriminator(self.vocab_size, self.max_len, **sizes))

    # ------------------------------------------------------------------ checks
    def check_fake(self, fake: Tensor) -> None:
        want = (self.max_len, self.vocab_size)
        if tuple(fake.shape[1:]) != want:
            raise ShapeError(
                f"the generator produced samples of shape {tuple(fake.shape[1:])} but the text "
                f"data '{self.data.name}' needs relaxed one-hots of shape {want} "
                "(max_len, vocabulary size)",
                hint="build the generator for this vocabulary and data.max_len (model.name "
                     "relgan or lstm)")

    # ------------------------------------------------------------------ people
    def render(self, samples: Tensor, path: Path, title: str = "") -> None:
        text = "\n".join(self.data.decode(self.to_eval(samples))) + "\n"
        Path(path).write_text(text, encoding="utf-8")

    def sample_lines(self, samples: Tensor) -> list[str] | None:
        return self.data.decode(self.to_eval(samples))

    # ------------------------------------------------------------------ evaluation
    def default_metrics(self, ecfg: Any) -> list[str]:
        names = ["bleu", "self_bleu", "nll_gen", "unique_ngrams"]
        if hasattr(self.data, "nll_oracle"):
            names.insert(0, "nll_oracle")
        return expand(names)

    def check_metric_applies(self, name: str) -> None:
        super().check_metric_applies(name)
        if get_metric(name).needs != "samples":
            raise ConfigError(f"eval.metrics asks for '{name}', which needs "
                              f"{get_metric(name).needs} and text has none",
                              hint="text metrics: bleu, self_bleu, nll_oracle, nll_gen, "
                                   "unique_ngrams")
        if name == "nll_oracle" and not hasattr(self.data, "nll_oracle"):
            raise ConfigError(f"eval.metrics asks for 'nll_oracle' but data '{self.data.name}' "
                              "has no oracle", hint="nll_oracle is for data.name=oracle")

    def metric_options(self, ecfg: Any) -> dict[str, Any]:
        return {**super().metric_options(ecfg), "bleu_hypotheses": ecfg.bleu_hypotheses,
                "self_bleu_hypotheses": ecfg.self_bleu_hypotheses}

    def metrics(self, sets: EvalSets, ecfg: Any, *, run_dir: Path | None = None,
                device: str = "cpu", final: bool = True) -> dict[str, Any]:
        for name in self.wanted_metrics(ecfg):
            self.check_metric_applies(name)
        out = super().metrics(sets, ecfg, run_dir=run_dir, device=device, final=final)
        if final:
            out["samples"] = self.data.decode(sets.fake[:10])
        return out
