"""ELECTRA pretraining: replaced-token detection (Clark et al. 2020).

Read `ElectraPretrainer.objective` top to bottom; it follows the paper and
the official `run_pretraining.py`:

1. mask 15% of the tokens (85% [MASK], 15% unchanged; see masking.py);
2. the generator, a small masked LM, predicts the masked tokens: MLM loss;
3. sample a replacement for every masked position from the generator
   (Gumbel-max at temperature T, no gradient into the generator);
4. the discriminator sees the input with the samples written in and labels
   every token: replaced iff it differs from the original (a sample that
   happens to be correct counts as original);
5. discriminator loss: sigmoid cross-entropy averaged over all real tokens;
   total loss = MLM + lambda * RTD with lambda = 50.

Generator and discriminator share one embedding block (word, position and
segment tables and the embedding LayerNorm); the generator's output layer is
tied to the word table with its own bias, and it has its own projection when
its hidden size differs from the embedding size. `weight_tying` chooses
another arrangement (paper section 3.1; DeBERTaV3, He et al. 2021):

- "embeddings" (the paper's and the official code's): one embedding block
  for both networks;
- "none": each network has its own embedding block (no tying);
- "gdes": gradient-disentangled sharing. The generator owns the block; the
  discriminator has its own block whose word vectors are
  stop_gradient(generator's word table) + a delta table of its own (zeros at
  first), so the discriminator's 50x larger loss cannot pull the generator's
  table its way (the "tug of war"), yet it starts from and follows what the
  generator learns. `fine_tunable_discriminator()` folds the delta in;
- "all": one encoder for both (the paper's "tying all weights", which needs
  generator_size 1.0): the generator is the discriminator's encoder with
  the masked-LM head on top, so the MLM loss trains the encoder that is
  fine-tuned too.

`variant` picks the main network's task on the corrupted input, the paper's
efficiency ablations (section 3.2, Table 5); each is an `--objective` value:

- "electra": replaced-token detection on every real token (step 5 above);
- "electra-15": the same loss on the masked positions only (15% of the
  tokens), which shows how much of ELECTRA's gain comes from learning
  from all tokens;
- "replace-mlm": masked language modelling where the masked positions hold
  generator samples instead of [MASK]; cross-entropy of the original token
  at the masked positions (the pretrain/fine-tune [MASK] mismatch removed);
- "all-tokens-mlm": like replace-mlm, but the identity of every real token
  is predicted, through a copy mechanism: a sigmoid gate D per token puts
  weight D on the input token and 1 - D on the masked-LM softmax, and the
  loss is -log of that mixture's probability of the original token.

The two MLM variants score tokens with an identity head (a masked-LM head
tied to the discriminator's word table, and for all-tokens-mlm the copy
gate); the discriminator's replaced-token head is then unused. Their loss is
generator MLM + the main network's MLM (both cross-entropies, weight 1).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from electra_keras.config import ModelConfig
from electra_keras.encoder import embeddings_for
from electra_keras.layers import random as step_random
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.models import ElectraDiscriminator, ElectraGenerator, electra_masked_lm_head
from electra_keras.pretraining.base import Pretrainer, global_mean
from electra_keras.pretraining.masking import MaskingConfig, scatter_positions

WEIGHT_TYING = ("embeddings", "none", "gdes", "all")
# The main network's task (module docstring); also the `--objective` values.
VARIANTS = ("electra", "electra-15", "replace-mlm", "all-tokens-mlm")
IDENTITY_VARIANTS = ("replace-mlm", "all-tokens-mlm")


def gumbel_max_sample(logits, temperature: float = 1.0):
    """One token per position from softmax(logits / T), via the Gumbel-max trick."""
    if step_random.active():  # a function of (seed, step): resumption draws the same samples
        uniform = step_random.step_uniform(tf.shape(logits))
    else:
        uniform = tf.random.uniform(tf.shape(logits), minval=1e-9, maxval=1.0)
    gumbel = -tf.math.log(-tf.math.log(uniform))
    return tf.argmax(logits / temperature + gumbel, axis=-1, output_type=tf.int32)


def replace_tokens(batch, sampled):
    """The discriminator's input and labels: every masked position (also those
    left unchanged by masking) gets its sampled token, as in the official
    code; a position is labelled replaced (1.0) iff its token now differs
    from the original, so a correct sample counts as original."""
    valid = batch["masked_weights"] > 0
    corrupted = scatter_positions(batch["masked_token_ids"], batch["masked_positions"], sampled, valid)
    replaced = tf.not_equal(corrupted, tf.cast(batch["token_ids"], tf.int32))
    return corrupted, tf.cast(replaced, tf.float32)


def masked_lm_terms(mlm_logits, batch):
    """Per-position cross-entropy and accuracy of MLM logits at the masked positions."""
    labels = batch["masked_ids"]
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=mlm_logits)
    correct = tf.cast(tf.argmax(mlm_logits, -1, output_type=tf.int32) == labels, tf.float32)
    return cross_entropy, correct


def mlm_trackers() -> dict[str, keras.metrics.Metric]:
    return {
        "loss": keras.metrics.Mean(name="loss"),
        "mlm_loss": keras.metrics.Mean(name="mlm_loss"),
        "mlm_accuracy": keras.metrics.Mean(name="mlm_accuracy"),
    }


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraPretrainer(Pretrainer):
    """A generator and a discriminator on ONE shared `Embeddings` block, trained
    with replaced-token detection by plain `fit`.

    The sharing is structural: the constructor creates the block once and
    hands it to both encoders, and `get_config` stores only configs, so
    `from_config` and `.keras` loading rebuild one set of variables
    (tf-models-official loses this on deserialization).

    Args:
        config: the discriminator's `ModelConfig` (family "electra", with a
            `generator_size`), its dict, or a preset name.
        masking: a `MaskingConfig`; `from_preset(..., vocabulary=...)` builds
            it from the vocabulary's special tokens.
        rtd_weight: lambda, the weight of the discriminator loss (paper: 50).
        temperature: sampling temperature of the generator (paper: 1.0).
        weight_tying: "embeddings", "none", "gdes" or "all" (see the module
            docstring).
        variant: "electra", "electra-15", "replace-mlm" or "all-tokens-mlm":
            the main network's task (see the module docstring).
        generator_config: the generator's `ModelConfig` (or dict), when the
            official rule of `ModelConfig.generator_config` does not give it;
            stored in `config` through `ModelConfig.with_generator`.

    Example:
    >>> model = ElectraPretrainer("tiny")
    >>> model.generator.encoder.embeddings is model.discriminator.encoder.embeddings
    True
    """

    masking_style = "electra"

    def __init__(
        self,
        config,
        masking: MaskingConfig | dict | None = None,
        rtd_weight: float = 50.0,
        temperature: float = 1.0,
        weight_tying: str = "embeddings",
        variant: str = "electra",
        generator_config: ModelConfig | dict | None = None,
        **kwargs,
    ):
        if generator_config is not None:
            config = ModelConfig.coerce(config).with_generator(generator_config)
        super().__init__(config, masking=masking, **kwargs)
        config = self.config
        if config.generator_size is None:
            raise ValueError(
                "ElectraPretrainer: the config needs a generator_size (a fraction "
                "of the discriminator's width, e.g. 0.25)"
            )
        if weight_tying not in WEIGHT_TYING:
            raise ValueError(f"weight_tying={weight_tying!r}: expected one of {WEIGHT_TYING}")
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")
        if variant in IDENTITY_VARIANTS and weight_tying == "gdes":
            raise ValueError(
                f"variant={variant!r} scores tokens against the discriminator's word table, which "
                "weight_tying='gdes' splits into a frozen base and a delta: use 'embeddings', 'none' or 'all'"
            )
        if weight_tying == "all" and (config.generator_size, config.generator_layers) != (1.0, 1.0):
            raise ValueError(
                f"weight_tying='all' ties every generator weight to the discriminator's, so the "
                f"generator must be as wide: generator_size=1.0 (got {config.generator_size}) "
                f"and as deep: generator_layers=1.0 (got {config.generator_layers})"
            )
        # === Layers ===
        # The generator's block; with "embeddings" and "all" the discriminator's too.
        self.embeddings = embeddings_for(config, dtype=self.dtype_policy)
        discriminator_embeddings = self.embeddings
        if weight_tying in ("none", "gdes"):
            base = self.embeddings.word_embeddings if weight_tying == "gdes" else None
            discriminator_embeddings = embeddings_for(
                config, name="discriminator_embeddings", dtype=self.dtype_policy, word_embeddings_base=base
            )
        discriminator = ElectraDiscriminator(
            config, embeddings=discriminator_embeddings, dtype=self.dtype_policy, name="discriminator"
        )
        generator = ElectraGenerator(
            self.generator_encoder_config(config, weight_tying),
            embeddings=self.embeddings,
            encoder=discriminator.encoder if weight_tying == "all" else None,
            dtype=self.dtype_policy,
            name="generator",
        )
        # Assigned in this order, as before tying options existed: the order of
        # the trainable variables, and so of the optimizer's slots in every
        # checkpoint written since.
        self.generator = generator
        self.discriminator = discriminator
        # The MLM variants' identity head (and copy gate), after the two
        # networks so that the default variant's checkpoints keep their layout.
        self.identity_head = self.copy_gate = None
        if variant in IDENTITY_VARIANTS:
            self.identity_head = electra_masked_lm_head(
                config, discriminator.encoder.embeddings.word_embeddings, "identity_head", self.dtype_policy
            )
            # The replaced-token head gets no loss here: frozen, so the
            # optimizer neither decays it nor warns about missing gradients.
            discriminator.head.trainable = False
        if variant == "all-tokens-mlm":
            self.copy_gate = keras.layers.Dense(
                1, kernel_initializer=truncated_normal(config.initializer_range), dtype=self.dtype_policy,
                name="copy_gate",
            )
            self.copy_gate.build((None, None, config.hidden_size))
        self.built = True
        # === Objective and metrics ===
        self.rtd_weight = rtd_weight
        self.temperature = temperature
        self.weight_tying = weight_tying
        self.variant = variant
        self.flops_objective = variant
        detection = {
            "rtd_loss": keras.metrics.Mean(name="rtd_loss"),
            "rtd_accuracy": keras.metrics.Mean(name="rtd_accuracy"),
            # Accuracy of always answering "original": what rtd_accuracy must beat.
            "rtd_baseline_accuracy": keras.metrics.Mean(name="rtd_baseline_accuracy"),
            "rtd_auc": keras.metrics.AUC(from_logits=True, name="rtd_auc"),
            "rtd_precision": keras.metrics.Precision(name="rtd_precision"),
            "rtd_recall": keras.metrics.Recall(name="rtd_recall"),
        }
        identity = {
            "identity_loss": keras.metrics.Mean(name="identity_loss"),
            "identity_accuracy": keras.metrics.Mean(name="identity_accuracy"),
        }
        if variant == "all-tokens-mlm":
            identity["copy_probability"] = keras.metrics.Mean(name="copy_probability")
        self.trackers = {
            **mlm_trackers(),
            "sampled_accuracy": keras.metrics.Mean(name="sampled_accuracy"),
            **(identity if variant in IDENTITY_VARIANTS else detection),
        }

    @classmethod
    def from_pretrained(
        cls,
        source,
        generator_size: float = 0.25,
        vocabulary=None,
        lowercase: bool | None = None,
        masking_rate: float = 0.15,
        config_overrides: dict | None = None,
        pretrained=None,
        **kwargs,
    ) -> ElectraPretrainer:
        """ELECTRA pretraining that continues from an existing encoder.

        The discriminator's encoder (and so the shared embeddings) takes the
        pretrained weights; the discriminator head and the generator are new,
        the generator `generator_size` times the encoder's width, as
        practitioners adapt a released checkpoint to their domain.

        Args:
            source: a pretraining run folder, a `.keras` file, a transformers
                folder (ELECTRA, BERT or ALBERT) or an official TF1
                checkpoint (see `tasks.pretrained.load_pretrained`).
            generator_size: the new generator's width as a fraction.
            vocabulary, lowercase: override what is found with the model;
                the vocabulary must have the model's size.
            masking_rate: fraction of tokens masked.
            config_overrides: ModelConfig fields to change that keep the
                weights' shapes (dropout, ...).
            pretrained: an already loaded `Pretrained` for `source`.
            **kwargs: constructor arguments (rtd_weight, weight_tying, ...).

        Example:
            model = ElectraPretrainer.from_pretrained("checkpoints/minilm")   # a BERT folder
        """
        import dataclasses

        from electra_keras.data.tokenizers import make_tokenizer
        from electra_keras.tasks.pretrained import load_pretrained

        if pretrained is None:
            pretrained = load_pretrained(source, vocabulary=vocabulary, lowercase=lowercase)
        # The encoder's architecture without its pooler (BERT's and ALBERT's):
        # ELECTRA's heads read every token, so a pooler would get no gradient
        # and the discriminator could not be written as ElectraForPreTraining.
        # The family only decides the heads, ELECTRA's here.
        config = dataclasses.replace(pretrained.config, family="electra", generator_size=generator_size,
                                     pooler=False, **(config_overrides or {}))
        tokenizer = make_tokenizer(pretrained.vocabulary, lowercase=pretrained.lowercase)
        if tokenizer.vocabulary_size != config.vocab_size:
            raise ValueError(
                f"{source}: the vocabulary has {tokenizer.vocabulary_size} tokens, the model's "
                f"embeddings {config.vocab_size}; pass the vocabulary the model was trained with"
            )
        masking = MaskingConfig.for_tokenizer(tokenizer, cls.masking_style, rate=masking_rate)
        model = cls(config, masking=masking, **kwargs)
        weights = pretrained.encoder.get_weights()
        if pretrained.encoder.pooler is not None:
            weights = weights[:-2]  # the pooler's kernel and bias, built last
        model.discriminator.encoder.set_weights(weights)
        if model.weight_tying in ("none", "gdes"):
            # The generator's own block starts from the same vectors; under gdes
            # it is the base, and the discriminator's delta starts at zero.
            discriminator_embeddings = model.discriminator.encoder.embeddings
            model.embeddings.set_weights(discriminator_embeddings.get_weights())
            if model.weight_tying == "gdes":
                delta = discriminator_embeddings.word_embeddings.embeddings
                delta.assign(keras.ops.zeros_like(delta))
        return model

    @property
    def masked_lm_head(self):
        return self.generator.head

    def initialize_output_priors(self, token_counts) -> dict:
        """The generator at the unigram distribution (see `Pretrainer`), and the
        discriminator at the share of tokens that will be replaced.

        Under unigram sampling a masked token is replaced unless the sample
        happens to equal it (probability sum p^2), so about
        rate * (1 - sum p^2) of the tokens are replaced; the discriminator's
        prediction bias starts at that share's logit instead of 0 (which
        says 50%). Left at 0, the first steps' largest gradient is this
        offset, and with Adam's per-weight steps the whole network, not the
        bias, learns it: every layer adds the same vector to every token, and
        the discriminator's hidden states collapse (cosine 0.998 between
        tokens after 100 steps of electra-mini).
        """
        import numpy as np

        described = super().initialize_output_priors(token_counts)
        counts = np.asarray(token_counts, np.float64)
        probabilities = counts / max(counts.sum(), 1.0)
        # A masked token is replaced unless its sample equals it.
        replaced_if_masked = 1.0 - float(np.sum(probabilities**2))
        rate = self.masking.rate if self.masking else 0.15
        replaced = rate * replaced_if_masked

        def logit(p):
            return np.log(p / (1.0 - p))

        if self.variant in IDENTITY_VARIANTS:
            # The identity head starts at the unigram distribution too.
            self.identity_head.bias.assign(self.masked_lm_head.bias)
            if self.copy_gate is not None:  # the share of tokens whose input is the original
                self.copy_gate.bias.assign(np.full(self.copy_gate.bias.shape, logit(1.0 - replaced), "float32"))
                described["expected copied share"] = 1.0 - replaced
            return described
        if self.variant == "electra-15":  # only masked positions are scored
            replaced = replaced_if_masked
        bias = self.discriminator.head.prediction.bias
        bias.assign(np.full(bias.shape, logit(replaced), "float32"))
        described["expected replaced share"] = replaced
        return described

    def fine_tunable_discriminator(self) -> ElectraDiscriminator:
        """The discriminator as a model of its own, the one to save and fine-tune.

        With "gdes" tying, a plain `ElectraDiscriminator` whose word table is
        the generator's table plus the discriminator's delta (the vectors the
        discriminator was trained with); otherwise the discriminator itself.
        """
        if self.weight_tying != "gdes":
            return self.discriminator
        plain = ElectraDiscriminator(self.config, dtype=self.dtype_policy, name="discriminator")
        # Same config, same construction order: the variables pair up one to one.
        for target, source in zip(plain.weights, self.discriminator.weights, strict=True):
            if source is self.discriminator.encoder.embeddings.word_embeddings.embeddings:
                value = source + self.embeddings.word_embeddings.embeddings
            else:
                value = source
            target.assign(value)
        return plain

    def call(self, inputs, training=False):
        """Generator and discriminator logits on the same inputs (no masking)."""
        return {
            "generator_logits": self.generator(inputs, training=training),
            "discriminator_logits": self.discriminator(inputs, training=training),
        }

    def objective(self, batch, training):
        padding_mask = batch["padding_mask"]
        positions, weights = batch["masked_positions"], batch["masked_weights"]

        # 2. The generator predicts the masked tokens.
        mlm_logits = self.generator(
            {"token_ids": batch["masked_token_ids"], "segment_ids": batch["segment_ids"],
             "padding_mask": padding_mask},
            masked_positions=positions,
            training=training,
        )
        cross_entropy, mlm_correct = masked_lm_terms(mlm_logits, batch)
        mlm_loss = global_mean(cross_entropy, weights)

        # 3. Sample replacements; no gradient flows back into the generator.
        sampled = tf.stop_gradient(gumbel_max_sample(mlm_logits, self.temperature))

        # 4. Corrupt the input; a correctly sampled token counts as original.
        corrupted, replaced = replace_tokens(batch, sampled)

        corrupted_inputs = {"token_ids": corrupted, "segment_ids": batch["segment_ids"], "padding_mask": padding_mask}
        values = {
            "mlm_loss": (cross_entropy, weights),
            "mlm_accuracy": (mlm_correct, weights),
            "sampled_accuracy": (tf.cast(sampled == batch["masked_ids"], tf.float32), weights),
        }
        if self.variant in IDENTITY_VARIANTS:
            identity_loss, identity_values = self._identity_objective(batch, corrupted_inputs, training)
            values.update(identity_values)
            return mlm_loss + identity_loss, values

        # 5. The discriminator labels every real token ("electra-15": the masked ones only).
        rtd_logits = tf.cast(self.discriminator(corrupted_inputs, training=training), tf.float32)
        if self.variant == "electra-15":
            token_weights = masked_token_indicator(batch, tf.shape(rtd_logits))
        else:
            token_weights = tf.cast(padding_mask, tf.float32)
        rtd_cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=replaced, logits=rtd_logits)
        rtd_loss = global_mean(rtd_cross_entropy, token_weights)
        loss = mlm_loss + self.rtd_weight * rtd_loss

        predicted_replaced = tf.cast(rtd_logits > 0, tf.float32)
        probabilities = tf.sigmoid(rtd_logits)
        values |= {
            "rtd_loss": (rtd_cross_entropy, token_weights),
            "rtd_accuracy": (tf.cast(predicted_replaced == replaced, tf.float32), token_weights),
            "rtd_baseline_accuracy": (1.0 - replaced, token_weights),
            "rtd_auc": (replaced, rtd_logits, token_weights),
            "rtd_precision": (replaced, probabilities, token_weights),
            "rtd_recall": (replaced, probabilities, token_weights),
        }
        return loss, values

    def _identity_objective(self, batch, corrupted_inputs, training):
        """The MLM variants: the main network predicts original tokens from the
        corrupted input, at the masked positions ("replace-mlm") or at every
        real token through the copy mechanism ("all-tokens-mlm")."""
        hidden = self.discriminator.encoder(corrupted_inputs, training=training)["sequence_output"]
        if self.variant == "replace-mlm":
            logits = self.identity_head(hidden, batch["masked_positions"])
            cross_entropy, correct = masked_lm_terms(logits, batch)
            weights = batch["masked_weights"]
            loss = global_mean(cross_entropy, weights)
            return loss, {"identity_loss": (cross_entropy, weights), "identity_accuracy": (correct, weights)}

        originals = tf.cast(batch["token_ids"], tf.int32)
        logits = self.identity_head(hidden)
        gate_logits = tf.cast(tf.squeeze(self.copy_gate(hidden), -1), tf.float32)
        negative_log_likelihood = copy_mechanism_loss(
            logits, gate_logits, corrupted_inputs["token_ids"], originals
        )
        weights = tf.cast(batch["padding_mask"], tf.float32)
        loss = global_mean(negative_log_likelihood, weights)
        # The mixture's prediction: the input token when D > 1/2 and it beats the
        # softmax's best, which with D > 1/2 it always does (D > 1 - D >= (1 - D) p).
        softmax_best = tf.argmax(logits, -1, output_type=tf.int32)
        predicted = tf.where(gate_logits > 0, corrupted_inputs["token_ids"], softmax_best)
        correct = tf.cast(predicted == originals, tf.float32)
        return loss, {
            "identity_loss": (negative_log_likelihood, weights),
            "identity_accuracy": (correct, weights),
            "copy_probability": (tf.sigmoid(gate_logits), weights),
        }

    @staticmethod
    def generator_encoder_config(config: ModelConfig, weight_tying: str) -> ModelConfig:
        """The generator's config: the official rule (`ModelConfig.generator_config`),
        or with every weight tied the discriminator's own (the official
        untied_generator=False: the generator IS the discriminator's encoder)."""
        if weight_tying == "all":
            return dataclasses.replace(config, generator_size=None, generator_layers=1.0, generator_num_heads=None,
                                       generator_intermediate_size=None, pooler=False)
        return config.generator_config()

    def training_flops_per_step(self, batch_size: int, sequence_length: int) -> int:
        """Analytic training FLOPs of one step (`electra_keras.pretraining.flops`), of the generator built."""
        from electra_keras.pretraining.flops import training_flops_per_sequence

        predictions = self.masking.num_predictions(sequence_length) if self.masking else 0
        per_sequence = training_flops_per_sequence(self.config, self.flops_objective, sequence_length, predictions,
                                                   generator=self.generator.config)
        return batch_size * per_sequence

    def get_config(self):
        config = super().get_config()
        config.update(rtd_weight=self.rtd_weight, temperature=self.temperature,
                      weight_tying=self.weight_tying, variant=self.variant)
        return config


def masked_token_indicator(batch, shape):
    """1.0 at the positions that were masked (whatever they now hold), else 0: (batch, length)."""
    valid = batch["masked_weights"] > 0
    ones = tf.cast(valid, tf.float32)
    return scatter_positions(tf.zeros(shape, tf.float32), batch["masked_positions"], ones, valid)


def copy_mechanism_loss(logits, gate_logits, input_ids, original_ids):
    """-log p(original) under All-Tokens MLM's copy mechanism, per token.

    p(w) = D * [w == input token] + (1 - D) * softmax(logits)[w], with
    D = sigmoid(gate_logits). In log space: where the input is the original,
    log(D + (1 - D) p) = logaddexp(log D, log(1 - D) + log p); elsewhere
    log(1 - D) + log p.
    """
    log_softmax = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=original_ids, logits=logits)
    log_keep = tf.math.log_sigmoid(gate_logits)  # log D
    log_generate = tf.math.log_sigmoid(-gate_logits) + log_softmax  # log((1 - D) p)
    copied = tf.equal(input_ids, original_ids)
    return -tf.where(copied, tf.experimental.numpy.logaddexp(log_keep, log_generate), log_generate)
