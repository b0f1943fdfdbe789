"""ELECTRA's generator and discriminator, sharing one embedding block.

Clark et al. 2020, section 3.2: the generator and discriminator share their
token (and here position and segment) embeddings and the embedding LayerNorm;
the generator's output layer is tied to the word embeddings with its own bias.
The replaced-token-detection objective is added on top of this model.
"""

from __future__ import annotations

import keras

from electra_keras.base import ConfiguredModel
from electra_keras.encoder import embeddings_for
from electra_keras.models import ElectraDiscriminator, ElectraGenerator


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraPretrainer(ConfiguredModel):
    """A generator and a discriminator built on ONE shared `Embeddings` block.

    The sharing is structural: the constructor creates the block once and
    hands it to both encoders, and `get_config` stores only the config, so
    `from_config` and `.keras` loading rebuild the same single set of
    variables (tf-models-official loses this on deserialization).

    Args:
        config: the discriminator's `ModelConfig` (family "electra", with a
            `generator_size`), its dict, or a preset name.

    Example:
    >>> model = ElectraPretrainer("tiny")
    >>> model.generator.encoder.embeddings is model.discriminator.encoder.embeddings
    True
    """

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        if config.generator_size is None:
            raise ValueError(
                "ElectraPretrainer: the config needs a generator_size (a fraction "
                "of the discriminator's width, e.g. 0.25)"
            )
        # === Layers ===
        self.embeddings = embeddings_for(config, dtype=self.dtype_policy)
        self.generator = ElectraGenerator(
            config.generator_config(),
            embeddings=self.embeddings,
            dtype=self.dtype_policy,
            name="generator",
        )
        self.discriminator = ElectraDiscriminator(
            config, embeddings=self.embeddings, dtype=self.dtype_policy, name="discriminator"
        )
        self.built = True

    def call(self, inputs, training=False):
        """Generator logits and discriminator logits on the same inputs."""
        return {
            "generator_logits": self.generator(inputs, training=training),
            "discriminator_logits": self.discriminator(inputs, training=training),
        }

