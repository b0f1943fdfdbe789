"""tf.data options shared by every pipeline this package builds.

Autotuning without its background thread. With `tf.data.AUTOTUNE` and
autotuning on (tf.data's default), every iterator starts a `tf_data_model`
thread that wakes up to re-tune the pipeline at doubling intervals, up to
one minute apart. Deleting the iterator cancels that thread and waits for
it, and in TensorFlow 2.21 the wake-up can be lost: the cancellation
callback notifies the thread before the cancellation manager marks itself
cancelled, the thread sees "not cancelled" and sleeps out the rest of its
interval. The caller then blocks for up to a minute, about half the time on
a 2-core machine: at the end of every `fit`, `evaluate` and `predict`
(measured: 32 s after a 70 s fine-tune; benchmarks/fit_overhead.py and
benchmarks/RESULTS.md).

Our pipelines therefore turn the autotuning model off. `AUTOTUNE` values
keep working without it: a parallel map uses as many calls as the machine
has cores and a prefetch buffer grows as the consumer needs it, which is
what our pipelines need (tokenizing and masking are far cheaper than a
training step).
"""

from __future__ import annotations

import tensorflow as tf


def without_autotune_thread(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's autotuning model off, unless its options set it.

    A dataset whose options already say `autotune.enabled` (True or False)
    keeps the user's choice.
    """
    if dataset.options().autotune.enabled is not None:
        return dataset
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
