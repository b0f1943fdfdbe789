"""Plain masked-LM pretraining (BERT-style, dynamic masking): the ablation
baseline of the ELECTRA paper, with the same data and the same encoder as
the discriminator, so the two objectives can be compared at equal compute."""

from __future__ import annotations

import dataclasses

import keras

from electra_keras.models import ElectraGenerator
from electra_keras.pretraining.base import Pretrainer, global_mean
from electra_keras.pretraining.electra import masked_lm_terms, mlm_trackers


@keras.saving.register_keras_serializable(package="electra_keras")
class MaskedLMPretrainer(Pretrainer):
    """An encoder of the discriminator's size with a tied MLM head, trained on
    BERT's masking (80% [MASK], 10% random, 10% unchanged).

    Its `encoder` is what gets fine-tuned, as the ELECTRA discriminator's is.

    Example:
    >>> model = MaskedLMPretrainer("tiny")
    >>> model.masked_lm.config.hidden_size == model.config.hidden_size
    True
    """

    masking_style = "mlm"
    flops_objective = "mlm"

    def __init__(self, config, masking=None, **kwargs):
        super().__init__(config, masking=masking, **kwargs)
        # The generator class is exactly "encoder + tied MLM head".
        self.masked_lm = ElectraGenerator(
            dataclasses.replace(self.config, generator_size=None),
            dtype=self.dtype_policy,
            name="masked_lm",
        )
        self.encoder = self.masked_lm.encoder
        self.built = True
        self.trackers = mlm_trackers()

    @property
    def masked_lm_head(self):
        return self.masked_lm.head

    def call(self, inputs, training=False):
        return self.masked_lm(inputs, training=training)

    def objective(self, batch, training):
        logits = self.masked_lm(
            {"token_ids": batch["masked_token_ids"], "segment_ids": batch["segment_ids"],
             "padding_mask": batch["padding_mask"]},
            masked_positions=batch["masked_positions"],
            training=training,
        )
        cross_entropy, correct = masked_lm_terms(logits, batch)
        weights = batch["masked_weights"]
        loss = global_mean(cross_entropy, weights)
        return loss, {"mlm_loss": (cross_entropy, weights), "mlm_accuracy": (correct, weights)}
