"""How big a configuration is: parameters and weight bytes of each part.

ALBERT's point is that these numbers shrink (Lan et al. 2019, Table 1), so
they are counted on the real models, built from the config, rather than from
a formula that could drift from the code.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np

from electra_keras.config import ModelConfig


@dataclasses.dataclass(frozen=True)
class PartSize:
    """One part of a model: its unique parameters and the bytes they take."""

    name: str
    parameters: int
    bytes: int


def part_size(name: str, model: keras.layers.Layer) -> PartSize:
    """Counts each variable once, however many layers use it (shared layers,
    tied embeddings), as a checkpoint stores it."""
    weights = model.weights
    return PartSize(
        name,
        sum(math.prod(w.shape) for w in weights),
        sum(math.prod(w.shape) * np.dtype(w.dtype).itemsize for w in weights),
    )


def model_sizes(config: ModelConfig | dict | str) -> list[PartSize]:
    """The encoder and the pretraining model of a config, built once.

    ELECTRA configs (with a `generator_size`) report the generator, the
    discriminator and the pretrainer; configs with a pooler report the
    ALBERT pretrainer (MLM + SOP heads); others the encoder alone.

    Example:
    >>> [part.name for part in model_sizes("tiny")]
    ['encoder', 'generator', 'discriminator', 'ELECTRA pretrainer (shared embeddings once)']
    """
    from electra_keras.encoder import Encoder
    from electra_keras.pretraining import AlbertPretrainer, ElectraPretrainer

    config = ModelConfig.coerce(config)
    if config.generator_size is not None:
        model = ElectraPretrainer(config)
        return [
            part_size("encoder", model.discriminator.encoder),
            part_size("generator", model.generator),
            part_size("discriminator", model.discriminator),
            part_size("ELECTRA pretrainer (shared embeddings once)", model),
        ]
    if config.pooler:
        model = AlbertPretrainer(config)
        return [part_size("encoder", model.encoder), part_size("pretrainer (MLM + SOP heads)", model)]
    return [part_size("encoder", Encoder(config))]


def format_sizes(sizes: list[PartSize]) -> str:
    """A table: part, parameters, weight bytes in MiB."""
    width = max(len(part.name) for part in sizes)
    lines = [f"{'':{width}s}  {'parameters':>13s}  {'weights':>11s}"]
    for part in sizes:
        lines.append(f"{part.name:{width}s}  {part.parameters:13,d}  {part.bytes / 2**20:7.1f} MiB")
    return "\n".join(lines)
