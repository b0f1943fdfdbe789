"""Distribution strategies from a flag: tf.distribute, not home-made code.

| name         | strategy                                                        |
|--------------|-----------------------------------------------------------------|
| auto         | MirroredStrategy over all GPUs when there are several, else the |
|              | default strategy (one device)                                   |
| one_device   | OneDeviceStrategy on the first GPU, or the CPU                  |
| mirrored     | MirroredStrategy over all local GPUs (or CPUs split with        |
|              | `split_cpu`)                                                    |
| multi_worker | MultiWorkerMirroredStrategy; the cluster comes from TF_CONFIG   |
| tpu          | TPUStrategy through TPUClusterResolver (--tpu NAME or address)  |

What works where (see the README): XLA (`jit_compile`) under
MirroredStrategy fails on CPU-only machines; mixed_bfloat16 runs on CPUs and
TPUs, mixed_float16 needs a GPU (loss scaling is added by Keras).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(count: int) -> None:
    """Split the CPU into `count` logical devices, so MirroredStrategy can run
    several replicas on a CPU-only machine (tests, trying a distributed setup).
    Must be called before TensorFlow initializes its devices."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as error:
        raise RuntimeError(
            "split_cpu must run before TensorFlow initializes its devices "
            "(before any tensor is created)"
        ) from error


def make_strategy(name: str = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    """The tf.distribute strategy a `--strategy` flag names."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        return _multi_worker()
    if name == "tpu":
        return _tpu(tpu)
    # Listing devices initializes TensorFlow's context, which collective ops
    # (multi_worker) must configure first: so only here.
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    # mirrored: every local GPU, or every (logical) CPU on a CPU-only machine.
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


def _multi_worker() -> tf.distribute.Strategy:
    config = os.environ.get("TF_CONFIG")
    if not config:
        raise ValueError(
            "strategy=multi_worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} on the first worker'
        )
    try:
        json.loads(config)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
    return tf.distribute.MultiWorkerMirroredStrategy()


def _tpu(tpu: str | None) -> tf.distribute.Strategy:
    """A Cloud TPU VM (tpu="local"), a TPU name, or a grpc:// address."""
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, logs and final models.

    Under MultiWorkerMirroredStrategy every worker takes part in saving (the
    collective ops need them all) but only the chief's files are kept.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0)
