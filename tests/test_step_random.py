"""The training step's random numbers (layers/random.py): uniform and
independent enough for dropout and Gumbel sampling, a function of (seed,
step) so that a resumed run trains exactly as an uninterrupted one, and the
same under XLA as without it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from electra_keras.layers import random as step_random
from electra_keras.pretraining.masking import mask_batch
from electra_keras.training.optimizers import electra_adamw

from test_objective import VOCAB, fixed_batch, masking

N = 1_000_000


def draws(seed, step, count=2, size=N):
    with step_random.step_random(seed, step):
        return [step_random.uniform([size], step_random.next_key()).numpy() for _ in range(count)]


def test_uniforms_are_uniform_and_independent():
    first, second = draws(seed=0, step=5)
    (other_step,) = draws(seed=0, step=6, count=1)
    (other_seed,) = draws(seed=1, step=5, count=1)
    sd = 1 / np.sqrt(N)  # of a correlation between independent streams
    for values in (first, second, other_step, other_seed):
        assert 0 < values.min() and values.max() < 1
        assert abs(values.mean() - 0.5) < 5 * np.sqrt(1 / 12 / N)
        assert abs(values.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / N)
        assert abs(np.corrcoef(values[:-1], values[1:])[0, 1]) < 5 * sd  # neighbours
    for a, b in ((first, second), (first, other_step), (first, other_seed)):
        assert abs(np.corrcoef(a, b)[0, 1]) < 5 * sd
    # Chi-square over 256 equal bins: 255 degrees of freedom, sd sqrt(510).
    counts = np.histogram(first, 256, (0, 1))[0]
    chi_square = ((counts - N / 256) ** 2 / (N / 256)).sum()
    assert abs(chi_square - 255) < 5 * np.sqrt(510)


def test_draws_are_a_function_of_seed_step_and_order():
    a, b = draws(seed=3, step=11, size=1000)
    again_a, again_b = draws(seed=3, step=11, size=1000)
    np.testing.assert_array_equal(a, again_a)
    np.testing.assert_array_equal(b, again_b)
    assert not np.array_equal(a, b)  # the second draw of a step is another stream
    assert not np.array_equal(a, draws(seed=3, step=12, size=1000)[0])
    with pytest.raises(RuntimeError, match="no step_random block is open"):
        step_random.next_key()


def test_dropout_keeps_one_minus_rate_and_rescales():
    x = tf.ones([200, 1000])
    with step_random.step_random(7, 0):
        y = step_random.dropout(x, 0.1, step_random.next_key()).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.9) < 5 * np.sqrt(0.09 / y.size)
    np.testing.assert_allclose(y[kept], 1 / 0.9, rtol=1e-6)
    layer = step_random.Dropout(0.5)
    outside = layer(x, training=True)  # no step block: Keras' own dropout
    assert 0.45 < float(tf.reduce_mean(tf.cast(outside != 0, tf.float32))) < 0.55
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_xla_draws_what_the_graph_draws():
    x = tf.random.normal([8, 64])

    def step(x, number):
        with step_random.step_random(5, number):
            return step_random.dropout(x, 0.3, step_random.next_key())

    compiled = tf.function(step, jit_compile=True)
    plain = tf.function(step)
    for number in (0, 1, 123456):
        np.testing.assert_array_equal(compiled(x, tf.constant(number)), plain(x, tf.constant(number)))


def pretrainer(seed):
    keras.utils.set_random_seed(0)  # the same initial weights for every copy
    config = ek.ModelConfig.from_preset("tiny", vocab_size=VOCAB, max_position_embeddings=64,
                                        dropout_rate=0.1, attention_dropout_rate=0.1)
    model = ek.ElectraPretrainer(config, masking=masking(), seed=seed)
    model.compile(optimizer=electra_adamw(learning_rate=1e-3, total_steps=10, warmup_steps=1))
    model.optimizer.build(model.trainable_variables)
    return model


@pytest.mark.slow
def test_a_resumed_run_trains_exactly_as_an_uninterrupted_one():
    """Dropout masks and generator samples depend on the step alone: a fresh
    model given the weights and optimizer state after step 2 reaches the
    uninterrupted run's weights after step 4, bit for bit."""
    batches = [{k: tf.constant(v) for k, v in mask_batch(fixed_batch(seed=i), masking(), seed=[1, i]).items()}
               for i in range(4)]
    uninterrupted = pretrainer(seed=9)
    for batch in batches[:2]:
        uninterrupted.train_on_batch(batch)
    # What a checkpoint after step 2 holds.
    saved_weights = uninterrupted.get_weights()
    saved_optimizer = [v.numpy() for v in uninterrupted.optimizer.variables]
    for batch in batches[2:]:
        uninterrupted.train_on_batch(batch)

    resumed = pretrainer(seed=9)  # a new process would rebuild the model like this
    resumed.set_weights(saved_weights)
    for target, value in zip(resumed.optimizer.variables, saved_optimizer):
        target.assign(value)
    assert int(resumed.optimizer.iterations.numpy()) == 2
    for batch in batches[2:]:
        resumed.train_on_batch(batch)
    for expected, actual in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(actual, expected)

    # The draws matter: another seed trains to other weights.
    other = pretrainer(seed=10)
    for batch in batches:
        other.train_on_batch(batch)
    assert any(not np.array_equal(a, b) for a, b in zip(uninterrupted.get_weights(), other.get_weights()))


def test_masked_dataset_masks_batch_k_alike_with_or_without_the_skip():
    """What a resumed run relies on: skipping k batches and starting the count at k masks
    batch k exactly as the uninterrupted pipeline does."""
    model = ek.ElectraPretrainer(ek.ModelConfig.from_preset("tiny", vocab_size=VOCAB, max_position_embeddings=64),
                                 masking=masking())
    batches = [fixed_batch(seed=i) for i in range(6)]
    data = tf.data.Dataset.from_tensor_slices({k: np.stack([b[k] for b in batches]) for k in batches[0]})
    full = list(model.masked_dataset(data, seed=3).as_numpy_iterator())
    # Without tf.data's autotuning thread (electra_keras/data/pipeline.py), with a seed or not.
    assert model.masked_dataset(data, seed=3).options().autotune.enabled is False
    assert model.masked_dataset(data).options().autotune.enabled is False
    resumed = list(model.masked_dataset(data.skip(4), seed=3, start_index=4).as_numpy_iterator())
    assert len(resumed) == 2
    for expected, actual in zip(full[4:], resumed):
        assert expected.keys() == actual.keys()
        for name in expected:
            np.testing.assert_array_equal(actual[name], expected[name])
    # The index matters: counted from 0 instead, batch 4 gets batch 0's masking draw.
    wrong = next(model.masked_dataset(data.skip(4), seed=3).as_numpy_iterator())
    assert not np.array_equal(wrong["masked_positions"], full[4]["masked_positions"])
