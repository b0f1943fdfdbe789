"""ALBERT's pretraining model: an encoder with masked-LM and sentence-order heads."""

from __future__ import annotations

import keras

from electra_keras.base import ConfiguredModel
from electra_keras.encoder import Encoder
from electra_keras.layers import MaskedLMHead, SentenceOrderHead


@keras.saving.register_keras_serializable(package="electra_keras")
class AlbertPretrainer(ConfiguredModel):
    """Encoder (with pooler) + MLM head tied to the word table + SOP head.

    transformers calls it AlbertForPreTraining; its MLM head uses the
    config's `hidden_act`.

    Example:
    >>> model = AlbertPretrainer(ModelConfig.from_preset("tiny", family="albert",
    ...     generator_size=None, share="all", pooler=True))
    >>> sorted(model({"token_ids": keras.ops.ones((2, 5), "int32")}))
    ['mlm_logits', 'sop_logits']
    """

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        if not config.pooler:
            raise ValueError("AlbertPretrainer: the config needs pooler=True (SOP reads it)")
        # === Layers ===
        self.encoder = Encoder(config, dtype=self.dtype_policy, name="encoder")
        self.mlm_head = MaskedLMHead(
            self.encoder.embeddings.word_embeddings,
            hidden_size=config.hidden_size,
            hidden_act=config.hidden_act,
            layer_norm_epsilon=config.layer_norm_epsilon,
            initializer_range=config.initializer_range,
            dtype=self.dtype_policy,
            name="mlm_head",
        )
        self.mlm_head.build()
        self.sop_head = SentenceOrderHead(
            hidden_size=config.hidden_size,
            dropout_rate=config.classifier_dropout_rate,
            initializer_range=config.initializer_range,
            dtype=self.dtype_policy,
            name="sop_head",
        )
        self.sop_head.build()
        self.built = True

    def call(self, inputs, masked_positions=None, training=False):
        outputs = self.encoder(inputs, training=training)
        sequence_output = outputs["sequence_output"]
        return {
            "mlm_logits": self.mlm_head(sequence_output, masked_positions),
            "sop_logits": self.sop_head(outputs["pooled_output"], training=training),
        }

