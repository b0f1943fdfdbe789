"""Encoders with their ELECTRA heads: the discriminator and the generator.

Each model owns an `Encoder`; when two models must share one embedding block
(ELECTRA pretraining), the owner passes the same `Embeddings` to both.
"""

from __future__ import annotations

import keras
from keras import ops

from electra_keras.base import ConfiguredModel
from electra_keras.encoder import Encoder
from electra_keras.layers import DiscriminatorHead, Embeddings, MaskedLMHead


def electra_masked_lm_head(config, word_embeddings, name: str, dtype=None) -> MaskedLMHead:
    """A built masked-LM head as ELECTRA's generator has it (exact GELU, the
    config's LayerNorm epsilon and initializer), scoring against `word_embeddings`."""
    head = MaskedLMHead(
        word_embeddings,
        hidden_size=config.hidden_size,
        hidden_act="gelu",
        layer_norm_epsilon=config.layer_norm_epsilon,
        initializer_range=config.initializer_range,
        dtype=dtype,
        name=name,
    )
    head.build()
    return head


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraDiscriminator(ConfiguredModel):
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
        super().__init__(config, **kwargs)
        config = self.config
        # === Layers ===
        self.encoder = Encoder(config, embeddings=embeddings, dtype=self.dtype_policy, name="encoder")
        self.head = DiscriminatorHead(
            hidden_size=config.hidden_size,
            hidden_act=config.hidden_act,
            initializer_range=config.initializer_range,
            dtype=self.dtype_policy,
            name="discriminator_head",
        )
        self.head.build()
        self.built = True

    def call(self, inputs, training=False):
        sequence_output = self.encoder(inputs, training=training)["sequence_output"]
        return self.head(sequence_output)



@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraGenerator(ConfiguredModel):
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

    def __init__(self, config, embeddings: Embeddings | None = None, encoder: Encoder | None = None, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        # === Layers ===
        # A given encoder is shared with its owner (ELECTRA with all weights tied).
        self.encoder = encoder or Encoder(config, embeddings=embeddings, dtype=self.dtype_policy, name="encoder")
        self.head = electra_masked_lm_head(config, self.encoder.embeddings.word_embeddings, "generator_head",
                                           self.dtype_policy)
        self.built = True

    def call(self, inputs, masked_positions=None, training=False):
        sequence_output = self.encoder(inputs, training=training)["sequence_output"]
        return self.head(sequence_output, masked_positions)


