"""Encoders with their ELECTRA heads: the discriminator and the generator.

Each model owns an `Encoder`; when two models must share one embedding block
(ELECTRA pretraining), the owner passes the same `Embeddings` to both.
"""

from __future__ import annotations

import keras
from keras import ops

from electra_keras.config import ModelConfig
from electra_keras.encoder import Encoder
from electra_keras.layers import DiscriminatorHead, Embeddings, masked_lm_head


class ElectraDiscriminator(keras.Model):
    """Encoder + replaced-token-detection head: one logit per token.

    The model users fine-tune after pretraining; transformers calls it
    ElectraForPreTraining.

    Args:
        config: a `ModelConfig`, its dict, or a preset name.
        embeddings: a shared `Embeddings` block (see `Encoder`).

    Example:
    >>> model = ElectraDiscriminator("tiny")
    >>> tuple(model({"token_ids": ops.ones((2, 5), "int32")}).shape)
    (2, 5)
    """

    def __init__(self, config, embeddings: Embeddings | None = None, **kwargs):
        config = ModelConfig.coerce(config)
        super().__init__(**kwargs)
        # === Layers ===
        self.encoder = Encoder(config, embeddings=embeddings, name="encoder")
        self.head = DiscriminatorHead(
            hidden_size=config.hidden_size,
            hidden_act=config.hidden_act,
            initializer_range=config.initializer_range,
            name="discriminator_head",
        )
        self.head.build()
        # === Config ===
        self.config = config

    def call(self, inputs, training=False):
        sequence_output = self.encoder(inputs, training=training)["sequence_output"]
        return self.head(sequence_output)

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ElectraGenerator(keras.Model):
    """Encoder + masked-LM head tied to the word embeddings (its own bias).

    transformers calls it ElectraForMaskedLM. The generator head always uses
    the exact GELU, whatever `hidden_act` says, as the official code does.

    Call with `masked_positions` (batch, num_masked) to get logits only there;
    without it, logits for every position: (batch, length, vocab_size).

    Example:
    >>> model = ElectraGenerator("tiny")
    >>> tuple(model({"token_ids": ops.ones((2, 5), "int32")}).shape)
    (2, 5, 1000)
    """

    def __init__(self, config, embeddings: Embeddings | None = None, **kwargs):
        config = ModelConfig.coerce(config)
        super().__init__(**kwargs)
        # === Layers ===
        self.encoder = Encoder(config, embeddings=embeddings, name="encoder")
        self.head = masked_lm_head(
            self.encoder.embeddings.word_embeddings,
            hidden_size=config.hidden_size,
            hidden_act="gelu",
            layer_norm_epsilon=config.layer_norm_epsilon,
            initializer_range=config.initializer_range,
            name="generator_head",
        )
        # === Config ===
        self.config = config

    def call(self, inputs, masked_positions=None, training=False):
        sequence_output = self.encoder(inputs, training=training)["sequence_output"]
        return self.head(sequence_output, every_position(sequence_output, masked_positions))

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def every_position(sequence_output, masked_positions=None):
    """The positions a masked-LM head should score: the given ones, or all."""
    if masked_positions is not None:
        return masked_positions
    batch, length = ops.shape(sequence_output)[0], ops.shape(sequence_output)[1]
    return ops.broadcast_to(ops.arange(length, dtype="int32")[None, :], (batch, length))
