"""ALBERT's pretraining model: an encoder with masked-LM and sentence-order heads."""

from __future__ import annotations

import keras

from electra_keras.config import ModelConfig
from electra_keras.encoder import Encoder
from electra_keras.layers import SentenceOrderHead, masked_lm_head
from electra_keras.models import every_position


class AlbertPretrainer(keras.Model):
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
        config = ModelConfig.coerce(config)
        super().__init__(**kwargs)
        if not config.pooler:
            raise ValueError("AlbertPretrainer: the config needs pooler=True (SOP reads it)")
        # === Layers ===
        self.encoder = Encoder(config, name="encoder")
        self.mlm_head = masked_lm_head(
            self.encoder.embeddings.word_embeddings,
            hidden_size=config.hidden_size,
            hidden_act=config.hidden_act,
            layer_norm_epsilon=config.layer_norm_epsilon,
            initializer_range=config.initializer_range,
            name="mlm_head",
        )
        self.sop_head = SentenceOrderHead(
            hidden_size=config.hidden_size,
            dropout_rate=config.classifier_dropout_rate,
            initializer_range=config.initializer_range,
            name="sop_head",
        )
        self.sop_head.build()
        # === Config ===
        self.config = config

    def call(self, inputs, masked_positions=None, training=False):
        outputs = self.encoder(inputs, training=training)
        sequence_output = outputs["sequence_output"]
        return {
            "mlm_logits": self.mlm_head(
                sequence_output, every_position(sequence_output, masked_positions)
            ),
            "sop_logits": self.sop_head(outputs["pooled_output"], training=training),
        }

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
