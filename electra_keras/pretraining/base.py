"""The training-step mechanics every pretraining objective shares.

A `Pretrainer` subclass defines `objective(batch, training)`: the loss to
minimize and the values its metrics track. This class turns that into Keras'
`train_step`/`test_step`, so pretraining is plain `model.fit` /
`model.evaluate`, on one device or under a `tf.distribute` strategy.

Losses are means over the *global* batch: each replica divides its sum by
the denominator summed over all replicas, so the gradients that the
strategy sums are exactly those of one device with the same global batch
(and the loss needs no further division by the number of replicas).

The steps and the masking are traced without autograph (`plain_python`): an
`objective` branches on Python values, and uses `tf.where`/`tf.cond` where
a decision depends on a tensor.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from electra_keras.base import ConfiguredModel, plain_python
from electra_keras.data.pipeline import without_autotune_thread
from electra_keras.layers.random import step_random
from electra_keras.pretraining.masking import MaskingConfig, mask_batch


def global_sum(value):
    """Sum of `value` over the replicas of the current strategy (itself on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_mean(values, weights):
    """sum(values * weights) / sum(weights), both sums over the global batch.

    Returns the replica's share: summing the shares of all replicas gives
    the global mean, which is what the strategy's gradient all-reduce does.
    """
    weights = tf.cast(weights, tf.float32)
    numerator = tf.reduce_sum(tf.cast(values, tf.float32) * weights)
    denominator = global_sum(tf.reduce_sum(weights))
    return numerator / tf.maximum(denominator, 1e-6)


def _micro_step(optimizer):
    """The number of train steps run so far: with gradient accumulation,
    `optimizer.iterations` counts updates, and every micro-batch needs its own draws."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return getattr(inner, "_iterations", inner.iterations)


def _multi_worker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    )


class Pretrainer(ConfiguredModel):
    """Base of the pretraining models: `objective` in, `train_step`/`test_step` out.

    Args:
        config: the model config.
        masking: a `MaskingConfig` (or its dict). Batches without
            `masked_positions` are masked inside the step with it; batches
            from `masked_dataset` arrive masked.
        seed: the training step's dropout masks and samples are a function
            of (seed, optimizer step) (`layers.random.step_random`), so a run
            resumed from a checkpoint draws what the uninterrupted run drew.
    """

    def __init__(self, config, masking: MaskingConfig | dict | None = None, seed: int = 0, **kwargs):
        super().__init__(config, **kwargs)
        self.seed = int(seed)
        self._clipnorm = None
        if isinstance(masking, dict):
            masking = MaskingConfig(**{**masking, "special_token_ids": tuple(masking["special_token_ids"])})
        self.masking = masking
        self.trackers: dict[str, keras.metrics.Metric] = {}

    # "electra" (85% [MASK], 15% kept) or "mlm" (BERT's 80/10/10).
    masking_style = "electra"
    # How `pretraining.flops` counts a step of this objective.
    flops_objective = "electra"

    def training_flops_per_step(self, batch_size: int, sequence_length: int) -> int:
        """Analytic training FLOPs of one step (`electra_keras.pretraining.flops`)."""
        from electra_keras.pretraining.flops import training_flops_per_sequence

        predictions = self.masking.num_predictions(sequence_length) if self.masking else 0
        per_sequence = training_flops_per_sequence(self.config, self.flops_objective, sequence_length, predictions)
        return batch_size * per_sequence

    @classmethod
    def from_preset(cls, name: str, vocabulary=None, lowercase: bool = True, masking_rate: float = 0.15,
                    whole_word_masking: bool = False, **kwargs):
        """A preset sized to a vocabulary, with masking ids from its special tokens.

        Args:
            name: a preset name (see `electra_keras.PRESETS`).
            vocabulary: a vocab.txt path or token list, or a SentencePiece
                .model (see `make_tokenizer`); sets `vocab_size` and
                the masking config. Without it, the model has no masking
                config and needs batches masked elsewhere.
            lowercase: how the vocabulary's tokenizer normalizes text.
            masking_rate: fraction of tokens masked.
            whole_word_masking: mask whole words (`MaskingConfig.continuation_ids`).
            **kwargs: ModelConfig fields to override, then constructor arguments.

        Example:
            model = ElectraPretrainer.from_preset("electra-small", vocabulary="vocab.txt")
        """
        from electra_keras.config import ModelConfig
        from electra_keras.data.tokenizers import make_tokenizer

        fields = ModelConfig.__dataclass_fields__
        overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in fields}
        masking = None
        if vocabulary is not None:
            tokenizer = make_tokenizer(vocabulary, lowercase=lowercase)
            overrides["vocab_size"] = tokenizer.vocabulary_size
            masking = MaskingConfig.for_tokenizer(tokenizer, cls.masking_style, whole_word=whole_word_masking,
                                                  rate=masking_rate)
        return cls(ModelConfig.from_preset(name, **overrides), masking=masking, **kwargs)

    # --- to be defined by each objective -----------------------------------

    def objective(self, batch: dict, training: bool):
        """Returns (loss, {metric name: (values, weights) or (labels, predictions, weights)})."""
        raise NotImplementedError

    # --- the masked-LM output bias ---------------------------------------------

    @property
    def masked_lm_head(self):
        """The `MaskedLMHead` of the objective (ELECTRA's generator, BERT's or ALBERT's MLM)."""
        raise NotImplementedError

    def initialize_output_priors(self, token_counts) -> dict:
        """Starts every output layer at the prior its loss expects.

        The masked LM's output bias becomes log((count + 1) / (total +
        vocabulary)): at step 0 its predictions (and ELECTRA's samples)
        already follow the token frequencies. The official code starts every
        output bias at zero, and Adam moves a bias by about one learning rate
        per step, so the priors are reached only after hundreds of steps: in
        the meantime the rest of the network learns the constant offset
        instead (benchmarks/RESULTS.md, "Pretraining that pays").
        Subclasses with more outputs set their priors too.

        Args:
            token_counts: per-id counts, e.g. `data.pretraining_data.token_counts`.

        Returns:
            {what was set: a number describing it}, for the log.
        """
        import numpy as np

        counts = np.asarray(token_counts, np.float64)
        bias = self.masked_lm_head.bias
        if counts.shape != tuple(bias.shape):
            raise ValueError(f"token_counts has shape {counts.shape}; the output bias has {tuple(bias.shape)}")
        log_probabilities = np.log((counts + 1.0) / (counts.sum() + counts.size))
        bias.assign((log_probabilities - log_probabilities.mean()).astype("float32"))
        return {"masked-LM unigram entropy (nats)": float(-np.sum(np.exp(log_probabilities) * log_probabilities))}

    # --- masking -------------------------------------------------------------

    @plain_python
    def mask(self, batch: dict, seed=None) -> dict:
        if self.masking is None:
            raise ValueError(
                f"{type(self).__name__} has no masking config: pass masking=MaskingConfig(...) "
                "(from_preset(..., vocabulary=...) builds one from the vocabulary)"
            )
        return mask_batch(batch, self.masking, seed=seed)

    def masked_dataset(
        self, dataset: tf.data.Dataset, seed: int | None = None, start_index: int = 0
    ) -> tf.data.Dataset:
        """Masks in the input pipeline: fresh masks every time a batch is drawn.

        With `seed`, masks are a stateless function of (seed, batch index), so
        an evaluation set is masked the same way every time and a resumed run
        masks batch i as the uninterrupted run would; `start_index` is the
        index of the dataset's first batch (the batches a resumed run skipped).
        """
        if seed is None:
            return without_autotune_thread(dataset.map(self.mask, num_parallel_calls=tf.data.AUTOTUNE))
        counted = dataset.enumerate(start=start_index)
        return without_autotune_thread(counted.map(
            lambda index, batch: self.mask(batch, seed=tf.stack([tf.constant(seed, tf.int64), index])),
            num_parallel_calls=tf.data.AUTOTUNE,
        ))

    # --- Keras plumbing ------------------------------------------------------

    @staticmethod
    def _batch(data) -> dict:
        if isinstance(data, (tuple, list)):
            data = data[0]
        if not isinstance(data, dict) or "token_ids" not in data:
            raise ValueError(
                "Pretraining batches must be dicts with token_ids, segment_ids and padding_mask "
                f"(see electra_keras.data.pretraining_dataset); got {type(data).__name__}"
            )
        return data

    def _prepared(self, data) -> dict:
        batch = self._batch(data)
        if "masked_positions" not in batch:
            batch = self.mask(batch)
        return batch

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        # Global-norm clipping moves from the optimizer to `_clip_gradients`,
        # for two Keras behaviours that make it differ from the norm of the
        # step's gradient: under a strategy Keras clips each replica's share
        # before the shares are summed, and it squares an IndexedSlices
        # gradient (the embeddings') row by row, so a token that occurs twice
        # in the batch counts as two rows, not as one row of their sum. The
        # optimizer object loses its global_clipnorm while it trains this
        # model. With gradient accumulation Keras clips the accumulated (dense)
        # sum, which is right, and keeps the clip.
        self._clipnorm = None
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        if getattr(inner, "global_clipnorm", None) and not inner.gradient_accumulation_steps:
            self._clipnorm = float(inner.global_clipnorm)
            inner.global_clipnorm = None

    def _clip_gradients(self, gradients):
        """Gradients clipped by the global norm of the whole step's gradient
        (each replica's share scaled by the factor of the sum over the
        replicas; the optimizer sums the shares).

        Under a strategy this costs one more all-reduce per step than Keras'
        own path; with it, N replicas take the step one device takes with the
        same global batch (tests/test_distributed.py). Under a loss-scale
        optimizer the norm is that of the unscaled gradients.
        """
        if self._clipnorm is None:
            return gradients
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        present = [index for index, gradient in enumerate(gradients) if gradient is not None]
        summed = [gradients[index] for index in present]
        if replicas > 1:
            summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [tf.convert_to_tensor(g) for g in summed])
        scale = getattr(self.optimizer, "dynamic_scale", None)
        scale = tf.cast(scale, tf.float32) if scale is not None else tf.constant(1.0)
        norm = tf.sqrt(tf.add_n([_squared_norm(g) for g in summed])) / scale
        # As Keras: a finite norm scales by min(1, clipnorm / norm); a
        # non-finite one makes every gradient NaN (the loss guard stops the run).
        factor = tf.minimum(1.0, self._clipnorm / norm) + (norm - norm)
        result = list(gradients)
        for index in present:
            result[index] = _scaled(gradients[index], factor)
        return result

    @plain_python
    def train_step(self, data):
        batch = self._prepared(data)
        with tf.GradientTape() as tape, step_random(self.seed, _micro_step(self.optimizer)):
            loss, values = self.objective(batch, training=True)
            scaled = self.optimizer.scale_loss(loss)
        gradients = self._clip_gradients(tape.gradient(scaled, self.trainable_weights))
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._update_metrics(loss, values)

    @plain_python
    def test_step(self, data):
        loss, values = self.objective(self._prepared(data), training=False)
        return self._update_metrics(loss, values)

    def _update_metrics(self, loss, values):
        # Every replica logs the global-batch loss; the metric's cross-replica
        # sum over count then reads it back unchanged.
        self.trackers["loss"].update_state(global_sum(loss))
        for name, entry in values.items():
            if len(entry) == 2:  # a weighted mean: (values, weights)
                self.trackers[name].update_state(entry[0], sample_weight=entry[1])
            else:  # a classification metric: (labels, predictions, weights)
                self.trackers[name].update_state(entry[0], entry[1], sample_weight=entry[2])
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Read in cross-replica context, a metric's state is summed over the
            # replicas: the result of the global batch. In a replica each reads
            # its own share, and Keras averages the replicas' results, which
            # weighs them wrongly when their token counts differ.
            results = context.merge_call(lambda _: {name: tracker.result() for name, tracker in self.trackers.items()})
        else:
            results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if _multi_worker(self.distribute_strategy):
            # Keras reduces step outputs over workers with
            # strategy.reduce("MEAN", value, axis=0), which needs an axis to
            # reduce: give each scalar one.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras reduces a sample batch over the workers to trace a symbolic
        # build, and under MultiWorkerMirroredStrategy `strategy.reduce` fails
        # on a dict batch. Our layers are built at construction and there is
        # no compiled loss or metric: only the optimizer needs its variables,
        # created under the strategy's scope as Keras would. Without a
        # strategy Keras would create them while tracing the first train step,
        # ~20 ms each there: eagerly they take a fraction of that.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        if self.masking is not None:
            masking = dataclasses.asdict(self.masking)
            masking["special_token_ids"] = list(masking["special_token_ids"])
            config["masking"] = masking
        return config


def _squared_norm(gradient) -> tf.Tensor:
    """The squared L2 norm of a gradient as a dense tensor: an IndexedSlices'
    rows of the same index are summed first (what the update applies)."""
    if isinstance(gradient, tf.IndexedSlices):
        unique, position = tf.unique(gradient.indices)
        rows = tf.math.unsorted_segment_sum(gradient.values, position, tf.size(unique))
        return tf.reduce_sum(tf.square(tf.cast(rows, tf.float32)))
    return tf.reduce_sum(tf.square(tf.cast(gradient, tf.float32)))


def _scaled(gradient, factor):
    # Dense, as Keras' own clip returns it: the optimizers' update rules (LAMB's
    # among them) take dense gradients.
    gradient = tf.convert_to_tensor(gradient)
    return gradient * tf.cast(factor, gradient.dtype)
