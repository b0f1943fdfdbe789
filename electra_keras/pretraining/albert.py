"""ALBERT pretraining: masked LM + sentence-order prediction (Lan et al. 2019).

Read `AlbertPretrainer.objective` top to bottom; it follows the paper
(section 4.1) and the official `run_pretraining.py`:

1. sentence order: every example holds two consecutive segments of one
   document, `[CLS] A [SEP] B [SEP]`; half of them, drawn afresh at every
   step, become `[CLS] B [SEP] A [SEP]` (label 1 = swapped, transformers'
   `sentence_order_label` convention; `swap_segments`);
2. n-gram masking: spans of 1-3 tokens, P(n) proportional to 1/n, 15% of the
   tokens, each chosen token 80% [MASK] / 10% random / 10% unchanged
   (masking.py);
3. one encoder pass; the MLM head predicts the masked tokens from the
   sequence output, the SOP head the order from the pooled [CLS];
4. loss = MLM cross-entropy (mean over masked tokens) + SOP cross-entropy
   (mean over the examples that have a segment B), with equal weights.

The encoder may use any sharing schedule (`ModelConfig.share`): ALBERT's is
"all", one set of layer weights used at every depth.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from electra_keras.encoder import Encoder
from electra_keras.layers import MaskedLMHead, SentenceOrderHead
from electra_keras.pretraining.base import Pretrainer, global_mean
from electra_keras.pretraining.electra import masked_lm_terms, mlm_trackers
from electra_keras.pretraining.masking import _split_seed, _uniform, mask_batch


def swap_segments(batch: dict, seed=None, rate: float = 0.5) -> dict:
    """Swaps segments A and B of a random half of the examples.

    Args:
        batch: dict of int tensors [batch, length]: `token_ids` laid out as
            `[CLS] A [SEP] B [SEP]` + padding (`pretraining_dataset`'s
            examples), `segment_ids` (0 on `[CLS] A [SEP]`, 1 on `B [SEP]`)
            and `padding_mask`.
        seed: optional stateless seed, shape (2,); None draws fresh.
        rate: the probability of a swap.

    Returns:
        The batch with `token_ids`/`segment_ids` rewritten where swapped
        (`[CLS] B [SEP] A [SEP]`, segment 0 on `[CLS] B [SEP]`), plus
        `sop_labels` (int32, 1 = swapped) and `sop_weights` (1.0 for
        examples with a segment B; single-segment examples cannot be swapped
        and do not count in the SOP loss).
    """
    token_ids = tf.cast(batch["token_ids"], tf.int32)
    segment_ids = tf.cast(batch["segment_ids"], tf.int32)
    real = tf.cast(batch["padding_mask"], tf.int32)
    in_b = segment_ids * real
    length_b = tf.reduce_sum(in_b, axis=1, keepdims=True) - 1  # B without its [SEP]
    length_a = tf.reduce_sum(real - in_b, axis=1, keepdims=True) - 2  # A without [CLS], [SEP]
    has_b = length_b[:, 0] > 0
    swap = tf.logical_and(_uniform(tf.shape(has_b), seed) < rate, has_b)

    # Where each position of [CLS] B [SEP] A [SEP] comes from in [CLS] A [SEP] B [SEP].
    j = tf.range(tf.shape(token_ids)[1])[tf.newaxis, :]
    source = tf.where(
        j == 0, 0,
        tf.where(j <= length_b, j + length_a + 1,  # B
                 tf.where(j == length_b + 1, length_a + 1,  # the first [SEP]
                          tf.where(j <= length_a + length_b + 1, j - length_b - 1,  # A
                                   j))))  # the last [SEP] and the padding stay
    swapped_ids = tf.gather(token_ids, source, batch_dims=1)
    swapped_segments = tf.cast(j > length_b + 1, tf.int32) * real
    return {
        **batch,
        "token_ids": tf.where(swap[:, tf.newaxis], swapped_ids, token_ids),
        "segment_ids": tf.where(swap[:, tf.newaxis], swapped_segments, segment_ids),
        "sop_labels": tf.cast(swap, tf.int32),
        "sop_weights": tf.cast(has_b, tf.float32),
    }


@keras.saving.register_keras_serializable(package="electra_keras")
class AlbertPretrainer(Pretrainer):
    """Encoder (with pooler) + MLM head tied to the word table + SOP head,
    trained on MLM + sentence-order prediction by plain `fit`.

    transformers calls it AlbertForPreTraining; its MLM head uses the
    config's `hidden_act`.

    Args:
        config: a `ModelConfig` (with `pooler=True`), its dict, or a preset name.
        masking: a `MaskingConfig`; `from_preset(..., vocabulary=...)` builds
            ALBERT's n-gram masking from the vocabulary's special tokens.
        swap_rate: the probability that an example's segments are swapped.

    Example:
    >>> model = AlbertPretrainer(ModelConfig.from_preset("tiny", family="albert",
    ...     generator_size=None, share="all", pooler=True))
    >>> sorted(model({"token_ids": keras.ops.ones((2, 5), "int32")}))
    ['mlm_logits', 'sop_logits']
    """

    masking_style = "albert"
    flops_objective = "albert"

    def __init__(self, config, masking=None, swap_rate: float = 0.5, **kwargs):
        super().__init__(config, masking=masking, **kwargs)
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
        # === Objective and metrics ===
        self.swap_rate = swap_rate
        self.trackers = {
            **mlm_trackers(),
            "sop_loss": keras.metrics.Mean(name="sop_loss"),
            "sop_accuracy": keras.metrics.Mean(name="sop_accuracy"),
        }

    @property
    def masked_lm_head(self):
        return self.mlm_head

    def call(self, inputs, masked_positions=None, training=False):
        outputs = self.encoder(inputs, training=training)
        sequence_output = outputs["sequence_output"]
        return {
            "mlm_logits": self.mlm_head(sequence_output, masked_positions),
            "sop_logits": self.sop_head(outputs["pooled_output"], training=training),
        }

    def mask(self, batch, seed=None):
        """Steps 1 and 2: draws the sentence order, then the n-gram masks."""
        if self.masking is None:
            return super().mask(batch, seed)  # raises the missing-config error
        swap_seed, mask_seed = _split_seed(seed, 2)
        batch = swap_segments(batch, swap_seed, self.swap_rate)
        return mask_batch(batch, self.masking, seed=mask_seed)

    def objective(self, batch, training):
        # 3. One encoder pass on the masked input, two heads.
        outputs = self(
            {"token_ids": batch["masked_token_ids"], "segment_ids": batch["segment_ids"],
             "padding_mask": batch["padding_mask"]},
            masked_positions=batch["masked_positions"],
            training=training,
        )
        # 4. MLM over the masked tokens + SOP over the two-segment examples.
        mlm_logits = tf.cast(outputs["mlm_logits"], tf.float32)
        cross_entropy, mlm_correct = masked_lm_terms(mlm_logits, batch)
        weights = batch["masked_weights"]
        mlm_loss = global_mean(cross_entropy, weights)

        sop_logits = tf.cast(outputs["sop_logits"], tf.float32)
        sop_labels = tf.cast(batch["sop_labels"], tf.int32)
        sop_weights = batch["sop_weights"]
        sop_cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=sop_labels, logits=sop_logits
        )
        sop_loss = global_mean(sop_cross_entropy, sop_weights)
        sop_correct = tf.cast(tf.argmax(sop_logits, -1, output_type=tf.int32) == sop_labels, tf.float32)
        values = {
            "mlm_loss": (cross_entropy, weights),
            "mlm_accuracy": (mlm_correct, weights),
            "sop_loss": (sop_cross_entropy, sop_weights),
            "sop_accuracy": (sop_correct, sop_weights),
        }
        return mlm_loss + sop_loss, values

    def get_config(self):
        config = super().get_config()
        config.update(swap_rate=self.swap_rate)
        return config
