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

`sentence_task` swaps step 1 for the paper's Table 5 comparison: "nsp" is
BERT's next-sentence prediction (half of the examples get a random segment
B, `random_next_segments`), "none" trains the masked LM alone.

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


def random_next_segments(batch: dict, seed=None, rate: float = 0.5) -> dict:
    """BERT's next-sentence prediction negatives: segment B of a random half
    of the examples is replaced by segment B of the next example in the batch.

    The reader shuffles examples across the corpus, so the neighbour's B comes
    from another document (almost always), as BERT's "random next sentence";
    it is cut to fit the sequence length. The padding id is taken to be 0
    ([PAD] / <pad> in every vocabulary this package builds or loads).

    Args:
        batch: as for `swap_segments`.
        seed: optional stateless seed, shape (2,); None draws fresh.
        rate: the probability of a random B.

    Returns:
        The batch with `token_ids`, `segment_ids` and `padding_mask` rewritten
        where replaced, plus `nsp_labels` (int32, 1 = random B, transformers'
        `next_sentence_label` convention) and `nsp_weights` (1.0 for examples
        with a segment B).
    """
    token_ids = tf.cast(batch["token_ids"], tf.int32)
    segment_ids = tf.cast(batch["segment_ids"], tf.int32)
    real = tf.cast(batch["padding_mask"], tf.int32)
    in_b = segment_ids * real
    length_b = tf.reduce_sum(in_b, axis=1) - 1  # B without its [SEP]
    length_a = tf.reduce_sum(real - in_b, axis=1) - 2  # A without [CLS], [SEP]
    has_b = length_b > 0
    size, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
    partner = tf.math.floormod(tf.range(size) + 1, size)
    replace = tf.logical_and(_uniform(tf.shape(has_b), seed) < rate, has_b)
    replace = tf.logical_and(replace, tf.logical_and(tf.gather(has_b, partner), size > 1))

    # [CLS] A [SEP] (own) + the partner's B, cut to the room left, + [SEP].
    start_b = (length_a + 2)[:, tf.newaxis]
    new_length_b = tf.minimum(tf.gather(length_b, partner), length - tf.cast(length_a, tf.int32) - 3)[:, tf.newaxis]
    j = tf.range(length)[tf.newaxis, :]
    partner_ids = tf.gather(token_ids, partner)
    source = tf.clip_by_value(tf.gather(length_a, partner)[:, tf.newaxis] + 2 + (j - start_b), 0, length - 1)
    from_partner = tf.gather(partner_ids, source, batch_dims=1)
    separator = tf.gather(token_ids, (length_a + 1)[:, tf.newaxis], batch_dims=1)
    end = start_b + new_length_b  # the position of the last [SEP]
    new_ids = tf.where(j < start_b, token_ids, tf.where(j < end, from_partner, separator))
    new_real = tf.cast(j <= end, tf.int32)
    new_ids *= new_real
    new_segments = tf.cast(j >= start_b, tf.int32) * new_real
    rows = replace[:, tf.newaxis]
    return {
        **batch,
        "token_ids": tf.where(rows, new_ids, token_ids),
        "segment_ids": tf.where(rows, new_segments, segment_ids),
        "padding_mask": tf.where(rows, new_real, real),
        "nsp_labels": tf.cast(replace, tf.int32),
        "nsp_weights": tf.cast(has_b, tf.float32),
    }


# The sentence-level task next to the masked LM (paper Table 5; `--objective`
# albert, albert-nsp, albert-none).
SENTENCE_TASKS = ("sop", "nsp", "none")


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
        swap_rate: the probability that an example's segments are swapped
            (for NSP: that its segment B is replaced).
        sentence_task: "sop" (ALBERT's sentence order), "nsp" (BERT's next
            sentence, `random_next_segments`) or "none" (masked LM only).

    Example:
    >>> from electra_keras.config import ModelConfig
    >>> model = AlbertPretrainer(ModelConfig.from_preset("tiny", family="albert",
    ...     generator_size=None, share="all", pooler=True))
    >>> sorted(model({"token_ids": keras.ops.ones((2, 5), "int32")}))
    ['mlm_logits', 'sop_logits']
    """

    masking_style = "albert"
    flops_objective = "albert"

    def __init__(self, config, masking=None, swap_rate: float = 0.5, sentence_task: str = "sop", **kwargs):
        super().__init__(config, masking=masking, **kwargs)
        config = self.config
        if sentence_task not in SENTENCE_TASKS:
            raise ValueError(f"sentence_task={sentence_task!r}: expected one of {SENTENCE_TASKS}")
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
        # The official get_sentence_order_output applies no dropout: the pooled
        # output goes straight into the 2-way layer (transformers' AlbertSOPHead
        # has a dropout; at inference the two agree).
        self.sop_head = SentenceOrderHead(
            hidden_size=config.hidden_size,
            dropout_rate=0.0,
            initializer_range=config.initializer_range,
            dtype=self.dtype_policy,
            name="sop_head",
        )
        self.sop_head.build()
        self.built = True
        # === Objective and metrics ===
        self.swap_rate = swap_rate
        self.sentence_task = sentence_task
        if sentence_task == "none":
            # Still computed (the model's outputs keep their shape), never trained.
            self.sop_head.trainable = False
            self.encoder.pooler.trainable = False
        self.trackers = mlm_trackers()
        if sentence_task != "none":
            self.trackers |= {
                f"{sentence_task}_loss": keras.metrics.Mean(name=f"{sentence_task}_loss"),
                f"{sentence_task}_accuracy": keras.metrics.Mean(name=f"{sentence_task}_accuracy"),
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
        if self.sentence_task == "sop":
            batch = swap_segments(batch, swap_seed, self.swap_rate)
        elif self.sentence_task == "nsp":
            batch = random_next_segments(batch, swap_seed, self.swap_rate)
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

        values = {"mlm_loss": (cross_entropy, weights), "mlm_accuracy": (mlm_correct, weights)}
        if self.sentence_task == "none":
            return mlm_loss, values
        # The sentence task's head is the same 2-way classifier on the pooled [CLS].
        task = self.sentence_task
        sentence_logits = tf.cast(outputs["sop_logits"], tf.float32)
        sentence_labels = tf.cast(batch[f"{task}_labels"], tf.int32)
        sentence_weights = batch[f"{task}_weights"]
        sentence_cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=sentence_labels, logits=sentence_logits
        )
        sentence_loss = global_mean(sentence_cross_entropy, sentence_weights)
        predicted = tf.argmax(sentence_logits, -1, output_type=tf.int32)
        values[f"{task}_loss"] = (sentence_cross_entropy, sentence_weights)
        values[f"{task}_accuracy"] = (tf.cast(predicted == sentence_labels, tf.float32), sentence_weights)
        return mlm_loss + sentence_loss, values

    def get_config(self):
        config = super().get_config()
        config.update(swap_rate=self.swap_rate, sentence_task=self.sentence_task)
        return config
