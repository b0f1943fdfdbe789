"""Random numbers of a training step as a function of (seed, step): dropout
masks and Gumbel noise that a resumed run draws exactly as an uninterrupted
one, and that XLA compiles to a few fused integer ops.

Inside `step_random(seed, step)` (the pretraining `train_step` enters it),
every draw gets its own 64-bit key from the seed, the step and the draw's
position in the traced step (the n-th dropout layer called, the n-th Gumbel
sample). Each random word is then a hash of the key and the element's
index: two rounds of a multiply-xorshift mixer (the MurmurHash3 finalizer)
over 32-bit words, a counter-based generator like Philox but cheaper.

Replicas: under a `tf.distribute` strategy each replica holds a contiguous
slice of the global batch, and replica r numbers its elements from
r * (its element count), so every element of the global batch gets the
word a single device would give it. One step on N replicas then draws
exactly what one device draws for the same global batch (equal per-replica
batches, as `experimental_distribute_dataset` splits them), which is what
lets tests/test_distributed.py compare them with dropout and sampling on.

On a CPU, TensorFlow's Philox costs 1.6x this hash without XLA and 70x with
XLA (benchmarks/xla_random_ops.py), which is what made XLA training slow.
Outside a `step_random` block (a user calling `model(x, training=True)`),
dropout falls back to Keras' own random numbers.

The streams are for regularization and sampling, not cryptography: the
hash passes the uniformity and independence checks of
tests/test_step_random.py (mean, variance, pairwise correlation, keep rate).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses

import keras
import tensorflow as tf

_GOLDEN = 0x9E3779B1  # 2^32 / golden ratio, odd
_MIX_1, _MIX_2 = 0x85EBCA6B, 0xC2B2AE35  # MurmurHash3's finalizer constants


def _fmix(x: tf.Tensor) -> tf.Tensor:
    """MurmurHash3's 32-bit finalizer: a bijection that spreads every input bit."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(_MIX_1, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 13))
    x = x * tf.constant(_MIX_2, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def _as_uint32(value) -> tf.Tensor:
    value = tf.convert_to_tensor(value)
    if value.dtype == tf.uint32:
        return value
    if value.dtype == tf.int64:
        value = tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, 32))
    return tf.bitcast(tf.cast(value, tf.int32), tf.uint32)


def random_bits(shape, key, offset=0) -> tf.Tensor:
    """uint32 words of `shape`, a function of `key` (two uint32) and each
    element's index (counted from `offset`).

    Two keyed rounds: different keys give unrelated streams (one round of
    index * golden + key would give shifted copies of one stream).
    """
    key = _as_uint32(key)
    size = tf.reduce_prod(tf.cast(shape, tf.int32))
    index = tf.bitcast(tf.range(size, dtype=tf.int32), tf.uint32) + _as_uint32(offset)
    words = _fmix(index * tf.constant(_GOLDEN, tf.uint32) + key[0])
    words = _fmix(tf.bitwise.bitwise_xor(words, key[1]) * tf.constant(_GOLDEN, tf.uint32))
    return tf.reshape(words, shape)


def uniform(shape, key, dtype="float32", offset=0) -> tf.Tensor:
    """Uniform floats in (0, 1): the centres of 2^23 equal bins, never 0 or 1.

    (23 bits, not 24: float32 rounds 1 - 2^-25 up to 1, and log(1) = 0
    would make a Gumbel sample infinite.)
    """
    bits = tf.bitwise.right_shift(random_bits(shape, key, offset), 9)
    values = (tf.cast(bits, tf.float32) + 0.5) * (1.0 / (1 << 23))
    return tf.cast(values, dtype)


def dropout(x, rate: float, key, offset=0) -> tf.Tensor:
    """`x` with each element zeroed with probability `rate`, the rest scaled by 1 / (1 - rate)."""
    threshold = tf.constant(min(int(round(rate * 2.0**32)), 2**32 - 1), tf.uint32)
    keep = random_bits(tf.shape(x), key, offset) >= threshold
    return tf.where(keep, x * tf.cast(1.0 / (1.0 - rate), x.dtype), tf.zeros_like(x))


@dataclasses.dataclass
class _Step:
    key: tf.Tensor  # uint32 [2]: the seed's and the step's words
    replica: tf.Tensor  # int32: this replica's index in the global batch
    draws: int = 0


_CURRENT: contextvars.ContextVar[_Step | None] = contextvars.ContextVar("electra_keras_step_random", default=None)


def _replica_id() -> tf.Tensor:
    context = tf.distribute.get_replica_context()
    if context is None:
        return tf.constant(0, tf.int32)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)


@contextlib.contextmanager
def step_random(seed, step):
    """Draws inside the block are a function of (seed, step, draw order) and each
    element's place in the global batch.

    Args:
        seed: the run's seed (int or int tensor).
        step: the optimizer step (int or int tensor), e.g. `optimizer.iterations`.

    Example:
    >>> x = tf.ones([2, 4])
    >>> with step_random(0, 7):
    ...     a = next_key()
    >>> with step_random(0, 7):
    ...     b = next_key()
    >>> bool(tf.reduce_all(a == b))
    True
    """
    seed_word = _fmix(_as_uint32(seed) * tf.constant(_GOLDEN, tf.uint32) + tf.constant(0x7F4A7C15, tf.uint32))
    step_word = _fmix(tf.bitwise.bitwise_xor(_as_uint32(step), seed_word) * tf.constant(_MIX_1, tf.uint32))
    token = _CURRENT.set(_Step(tf.stack([seed_word, step_word]), _replica_id()))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def active() -> bool:
    """Whether a `step_random` block is open."""
    return _CURRENT.get() is not None


def _offset(shape) -> tf.Tensor:
    """Where this replica's elements start in the global batch's numbering."""
    step = _CURRENT.get()
    size = tf.reduce_prod(tf.cast(shape, tf.int32))
    return step.replica * size


def step_uniform(shape, dtype="float32") -> tf.Tensor:
    """`uniform` with the next key of the open block, numbered in the global batch."""
    return uniform(shape, next_key(), dtype, offset=_offset(shape))


def step_dropout(x, rate: float) -> tf.Tensor:
    """`dropout` with the next key of the open block, numbered in the global batch."""
    return dropout(x, rate, next_key(), offset=_offset(tf.shape(x)))


def next_key() -> tf.Tensor:
    """The key of the next draw of the open `step_random` block (uint32 [2])."""
    step = _CURRENT.get()
    if step is None:
        raise RuntimeError("next_key: no step_random block is open")
    step.draws += 1
    draw = tf.constant((step.draws * _MIX_2) & 0xFFFFFFFF, tf.uint32)
    return tf.stack([step.key[0] ^ draw, _fmix(step.key[1] + draw)])


@keras.saving.register_keras_serializable(package="electra_keras")
class Dropout(keras.layers.Dropout):
    """Keras' Dropout; inside `step_random`, its mask comes from the step's keys.

    Example:
    >>> layer = Dropout(0.5)
    >>> with step_random(seed=1, step=3):
    ...     first = layer(tf.ones([2, 8]), training=True)
    >>> with step_random(seed=1, step=3):
    ...     again = layer(tf.ones([2, 8]), training=True)
    >>> bool(tf.reduce_all(first == again))
    True
    """

    def call(self, inputs, training=False):
        if not (training and self.rate > 0 and active()):
            return super().call(inputs, training=training)
        if self.noise_shape is not None:
            return super().call(inputs, training=training)
        return step_dropout(inputs, self.rate)
