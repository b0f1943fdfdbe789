"""The one model config of electra_keras, and the presets named for the papers.

A `ModelConfig` describes one transformer encoder (ELECTRA, ALBERT or BERT
layout) and, for ELECTRA, the width of its generator. It round-trips through
JSON; the presets live as data in `presets.json` beside this file.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from pathlib import Path
from typing import Any

FAMILIES = ("electra", "albert", "bert")

# Cross-layer parameter sharing (ALBERT, Lan et al. 2019, section 3.1):
#   none      every layer has its own attention and feed-forward weights;
#   all       one attention + one feed-forward sublayer reused by every layer;
#   attention only the attention sublayer is shared;
#   ffn       only the feed-forward sublayer is shared;
#   groups    num_hidden_groups groups of inner_group_num layers each, as in
#             the official ALBERT code and transformers' AlbertTransformer.
SHARE_MODES = ("none", "all", "attention", "ffn", "groups")

# Names as transformers' configs spell them. "gelu" is the exact (erf) GELU;
# "gelu_new" is the tanh approximation that the released ALBERT configs use.
ACTIVATIONS = ("gelu", "gelu_new", "relu")


def _load_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("electra_keras").joinpath("presets.json").read_text()
    return json.loads(text)


PRESETS: dict[str, dict[str, Any]] = _load_presets()

# Training settings for presets without their own ("pretraining" and
# "finetuning" in presets.json): the BERT-style defaults.
PRETRAINING_FALLBACK = {"learning_rate": 2e-4, "batch_size": 128, "sequence_length": 128, "masking_rate": 0.15}
FINETUNING_FALLBACK = {"learning_rate": 1e-4, "layer_decay": 0.8}
# What makes two configs the same architecture for `preset_of`.
_ARCHITECTURE = ("family", "num_layers", "hidden_size", "num_heads", "intermediate_size", "embedding_size", "share")


def pretraining_defaults(preset: str | None) -> dict[str, Any]:
    """Peak learning rate, batch size, sequence length and masking rate of a
    preset: the ELECTRA paper's (Table 6) and the official
    `configure_pretraining.py` for the ELECTRA sizes (Small 5e-4 at 128 x 128;
    Base 2e-4 at 256 x 512; Large 2e-4 at 2048 x 512, masking 25%), else
    `PRETRAINING_FALLBACK`.

    Example:
    >>> pretraining_defaults("electra-large")["masking_rate"]
    0.25
    """
    return {**PRETRAINING_FALLBACK, **PRESETS.get(preset or "", {}).get("pretraining", {})}


def finetuning_defaults(preset: str | None) -> dict[str, Any]:
    """Peak learning rate and layer-wise decay of a preset: the ELECTRA
    paper's Table 7 (Small 3e-4, Base 1e-4, Large 5e-5; decay 0.8, Large 0.9),
    else `FINETUNING_FALLBACK`."""
    return {**FINETUNING_FALLBACK, **PRESETS.get(preset or "", {}).get("finetuning", {})}


def published_weights(preset: str, part: str = "encoder") -> str | None:
    """The Hugging Face hub id of a preset's published checkpoint, or None.

    `part`: "encoder" (the discriminator for ELECTRA) or "generator".

    Example:
    >>> published_weights("electra-base"), published_weights("electra-mini")
    ('google/electra-base-discriminator', None)
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; known presets: {', '.join(sorted(PRESETS))}")
    return (PRESETS[preset].get("weights") or {}).get(part)


def preset_of(config: ModelConfig) -> str | None:
    """The preset with `config`'s architecture (layers, widths, heads,
    sharing), or None: what a loaded checkpoint is, for its training defaults.

    Example:
    >>> preset_of(ModelConfig.from_preset("electra-base", vocab_size=1000, dropout_rate=0.0))
    'electra-base'
    """
    for name in PRESETS:
        preset = ModelConfig.from_preset(name)
        if all(getattr(preset, field) == getattr(config, field) for field in _ARCHITECTURE):
            return name
    return None


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of one encoder (and, for ELECTRA, its generator).

    Args:
        family: "electra", "albert" or "bert": which reference layout the
            heads and the checkpoint converters follow.
        vocab_size: number of word-piece ids.
        embedding_size: width of the word/position/segment embeddings. When it
            differs from `hidden_size` a projection maps embeddings to the
            hidden width (factorized embeddings).
        hidden_size: width of the transformer blocks.
        num_layers: number of transformer layers applied.
        num_heads: attention heads; must divide `hidden_size`.
        intermediate_size: inner width of the feed-forward sublayer.
        hidden_act: "gelu" (exact, erf), "gelu_new" (tanh approximation) or
            "relu".
        dropout_rate: dropout after embeddings and in each sublayer.
        attention_dropout_rate: dropout on attention probabilities.
        classifier_dropout_rate: dropout before classification heads.
        max_position_embeddings: longest sequence the model accepts.
        type_vocab_size: number of segment ids.
        layer_norm_epsilon: LayerNorm epsilon (1e-12 as in BERT).
        initializer_range: stddev of the truncated-normal initializer.
        share: cross-layer sharing mode, one of `SHARE_MODES`.
        num_hidden_groups: with share="groups", number of layer groups.
        inner_group_num: with share="groups", layers inside each group.
        embedding_projection: force (True) or forbid (False) the projection
            from embeddings to hidden width; None projects exactly when
            `embedding_size != hidden_size`. ALBERT checkpoints always have it.
        pooler: add the tanh pooler on [CLS] (BERT and ALBERT have one).
        generator_size: ELECTRA only: generator hidden size as a fraction of
            the discriminator's (paper: 1/4 small, 1/3 base, 1/4 large; 1.0
            is the full-size generator of the released "++" checkpoints).
            The rest of the generator follows the official
            `run_pretraining.get_generator_config` (see `generator_config`).
        generator_layers: ELECTRA only: generator depth as a fraction of
            `num_layers` (the official `generator_layers`, default 1.0).
        generator_num_heads, generator_intermediate_size: ELECTRA only:
            explicit generator heads and FFN width, for generators that the
            official rule does not describe; None follows the rule
            (heads = max(1, hidden // 64), FFN = 4 * generator hidden).
            `with_generator` sets all four generator fields from a config.
        pad_token_id: id of [PAD].

    Example:
    >>> config = ModelConfig.from_preset("electra-small")
    >>> config.generator_config().hidden_size
    64
    >>> ModelConfig.from_json(config.to_json()) == config
    True
    """

    family: str = "electra"
    vocab_size: int = 30522
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 12
    num_heads: int = 4
    intermediate_size: int = 1024
    hidden_act: str = "gelu"
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.1
    classifier_dropout_rate: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_epsilon: float = 1e-12
    initializer_range: float = 0.02
    share: str = "none"
    num_hidden_groups: int = 1
    inner_group_num: int = 1
    embedding_projection: bool | None = None
    pooler: bool = False
    generator_size: float | None = None
    generator_layers: float = 1.0
    generator_num_heads: int | None = None
    generator_intermediate_size: int | None = None
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.family not in FAMILIES:
            problems.append(f"family={self.family!r}: expected one of {FAMILIES}")
        for name in (
            "vocab_size",
            "embedding_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
            "num_hidden_groups",
            "inner_group_num",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name}={value!r}: expected a positive integer")
        for name in (
            "dropout_rate",
            "attention_dropout_rate",
            "classifier_dropout_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                problems.append(f"{name}={value!r}: expected a rate in [0, 1)")
        if self.hidden_act not in ACTIVATIONS:
            problems.append(
                f"hidden_act={self.hidden_act!r}: expected one of {ACTIVATIONS}"
            )
        if self.share not in SHARE_MODES:
            problems.append(f"share={self.share!r}: expected one of {SHARE_MODES}")
        if (
            isinstance(self.hidden_size, int)
            and isinstance(self.num_heads, int)
            and self.num_heads > 0
            and self.hidden_size % self.num_heads
        ):
            problems.append(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_heads={self.num_heads}"
            )
        if self.share == "groups" and self.num_layers % self.num_hidden_groups:
            problems.append(
                f"num_layers={self.num_layers} is not divisible by "
                f"num_hidden_groups={self.num_hidden_groups}"
            )
        if self.share != "groups" and (
            self.num_hidden_groups != 1 or self.inner_group_num != 1
        ):
            problems.append(
                "num_hidden_groups and inner_group_num are used only with "
                f"share='groups' (got share={self.share!r})"
            )
        if self.generator_size is not None:
            if self.family != "electra":
                problems.append("generator_size is for family='electra' only")
            elif not 0.0 < self.generator_size <= 1.0:
                problems.append(
                    f"generator_size={self.generator_size!r}: expected a "
                    "fraction in (0, 1]"
                )
        if not 0.0 < self.generator_layers <= 1.0:
            problems.append(f"generator_layers={self.generator_layers!r}: expected a fraction in (0, 1]")
        for name in ("generator_num_heads", "generator_intermediate_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                problems.append(f"{name}={value!r}: expected a positive integer or None")
        explicit = [
            name
            for name in ("generator_num_heads", "generator_intermediate_size")
            if getattr(self, name) is not None
        ] + (["generator_layers"] if self.generator_layers != 1.0 else [])
        if explicit and self.generator_size is None:
            problems.append(f"{', '.join(explicit)} describe a generator: they need a generator_size")
        if problems:
            raise ValueError("Invalid ModelConfig: " + "; ".join(problems))

    # -- derived properties -------------------------------------------------

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def projects_embeddings(self) -> bool:
        if self.embedding_projection is None:
            return self.embedding_size != self.hidden_size
        return self.embedding_projection

    def layer_schedule(self) -> list[tuple[int, int]]:
        """(attention index, feed-forward index) of every layer applied, in order.

        With share="groups" each of the `num_layers` steps runs all
        `inner_group_num` layers of its group, exactly as transformers'
        AlbertTransformer does, so the schedule has num_layers * inner_group_num
        entries.
        """
        n = self.num_layers
        if self.share == "none":
            return [(i, i) for i in range(n)]
        if self.share == "all":
            return [(0, 0)] * n
        if self.share == "attention":
            return [(0, i) for i in range(n)]
        if self.share == "ffn":
            return [(i, 0) for i in range(n)]
        schedule = []
        for i in range(n):
            group = int(i / (n / self.num_hidden_groups))
            for inner in range(self.inner_group_num):
                index = group * self.inner_group_num + inner
                schedule.append((index, index))
        return schedule

    @property
    def num_attention_sublayers(self) -> int:
        return 1 + max(a for a, _ in self.layer_schedule())

    @property
    def num_feedforward_sublayers(self) -> int:
        return 1 + max(f for _, f in self.layer_schedule())

    def generator_config(self) -> ModelConfig:
        """The ELECTRA generator's config, by the official rule.

        As google-research/electra `run_pretraining.get_generator_config`:
        hidden = round(generator_size * hidden_size), layers =
        round(generator_layers * num_layers), FFN = 4 * generator hidden and
        heads = max(1, generator hidden // 64), unless
        `generator_intermediate_size` / `generator_num_heads` say otherwise.
        Embeddings, dropout and the rest are the discriminator's.

        Raises:
            ValueError: no generator_size, or heads that do not divide the
                generator's hidden size.
        """
        if self.family != "electra" or self.generator_size is None:
            raise ValueError(
                "generator_config() needs family='electra' and a generator_size; "
                f"got family={self.family!r}, generator_size={self.generator_size!r}"
            )
        hidden = int(round(self.hidden_size * self.generator_size))
        heads = self.generator_num_heads or max(1, hidden // 64)
        if hidden % heads:
            raise ValueError(
                f"the generator's hidden size {hidden} (generator_size={self.generator_size} of "
                f"{self.hidden_size}) is not divisible by its {heads} heads; set generator_num_heads"
            )
        return dataclasses.replace(
            self,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=self.generator_intermediate_size or 4 * hidden,
            num_layers=max(1, int(round(self.num_layers * self.generator_layers))),
            generator_size=None,
            generator_layers=1.0,
            generator_num_heads=None,
            generator_intermediate_size=None,
            # A masked LM reads every position, never a pooled [CLS]: a BERT
            # encoder's pooler (continued pretraining) is not copied into it.
            pooler=False,
        )

    def with_generator(self, generator: ModelConfig | dict) -> ModelConfig:
        """This discriminator config with `generator` as its generator.

        For generators that the official rule does not produce (another FFN
        width, other heads): the generator fields are set so that
        `generator_config()` returns `generator` exactly.

        Raises:
            ValueError: `generator` differs from this config in something a
                generator cannot change (embeddings, vocabulary, positions,
                activation, ...), or its width or depth is no fraction of ours.

        Example:
        >>> config = ModelConfig.from_preset("electra-small")
        >>> generator = dataclasses.replace(config.generator_config(), intermediate_size=128)
        >>> config.with_generator(generator).generator_config() == generator
        True
        """
        generator = ModelConfig.coerce(generator)
        free = {"hidden_size", "num_heads", "intermediate_size", "num_layers", "pooler"}
        fixed = {
            name: (getattr(generator, name), getattr(self, name))
            for name in self.to_dict()
            if name not in free and not name.startswith("generator_")
            and getattr(generator, name) != getattr(self, name)
        }
        if fixed:
            raise ValueError(
                "with_generator: the generator differs from the discriminator in "
                + ", ".join(f"{name} ({theirs!r} vs {ours!r})" for name, (theirs, ours) in sorted(fixed.items()))
                + "; a generator shares the discriminator's embeddings and settings"
            )
        if generator.hidden_size > self.hidden_size or generator.num_layers > self.num_layers:
            raise ValueError(
                f"with_generator: a generator of hidden {generator.hidden_size} and {generator.num_layers} "
                f"layers is larger than the discriminator ({self.hidden_size}, {self.num_layers} layers)"
            )
        hidden = generator.hidden_size
        config = dataclasses.replace(
            self,
            generator_size=hidden / self.hidden_size,
            generator_layers=generator.num_layers / self.num_layers,
            generator_num_heads=None if generator.num_heads == max(1, hidden // 64) else generator.num_heads,
            generator_intermediate_size=(
                None if generator.intermediate_size == 4 * hidden else generator.intermediate_size
            ),
        )
        if config.generator_config() != dataclasses.replace(generator, pooler=False):
            raise ValueError(f"with_generator: {generator} cannot be expressed as a generator of this config")
        return config

    # -- serialization ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown ModelConfig field(s) {unknown}; known fields: {sorted(known)}"
            )
        return cls(**values)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> ModelConfig:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise FileNotFoundError(f"No config file at {path}")
            text = path.read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """The config of a named preset, with any field overridden.

        Example:
        >>> ModelConfig.from_preset("albert-base", share="attention").share
        'attention'
        """
        if name not in PRESETS:
            raise ValueError(
                f"Unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
            )
        values = dict(PRESETS[name]["config"])
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def coerce(cls, config: ModelConfig | dict[str, Any] | str) -> ModelConfig:
        """Accepts a config, its dict, or a preset name."""
        if isinstance(config, cls):
            return config
        if isinstance(config, dict):
            return cls.from_dict(config)
        if isinstance(config, str):
            return cls.from_preset(config)
        raise TypeError(
            f"config: expected a ModelConfig, a dict or a preset name, got {type(config).__name__}"
        )


def describe_presets() -> str:
    lines = []
    for name in sorted(PRESETS):
        lines.append(f"{name:16s} {PRESETS[name]['description']}")
    return "\n".join(lines)

