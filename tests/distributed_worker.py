"""Runs in a fresh process for test_distributed.py (devices must be configured
before TensorFlow starts). Prints one JSON line of results.

    python distributed_worker.py replicas OUT.json   (ALBERT's MLM + SOP step, one device vs mirrored)
    python distributed_worker.py pretrain OUT DATA   (pretrain() on one device, then the CLI mirrored on 2 CPUs)
    python distributed_worker.py pretrain-worker OUT DATA   (pretrain() under multi_worker; "PORT n", TF_CONFIG)
"""

import json
import os
import socket
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

mode, out = sys.argv[1], sys.argv[2]

from electra_keras.training.strategy import make_strategy, split_cpu  # noqa: E402

if mode in ("replicas", "pretrain"):
    split_cpu(2)


import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import electra_keras as ek  # noqa: E402
from electra_keras.pretraining.albert import swap_segments  # noqa: E402
from electra_keras.pretraining.masking import MaskingConfig, mask_batch  # noqa: E402

VOCAB, LENGTH, GLOBAL_BATCH = 60, 24, 8
PRETRAIN_STEPS = 4
MASKING = MaskingConfig.electra(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=VOCAB)
ALBERT_MASKING = MaskingConfig.albert(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=VOCAB)
# Dropout on and sampling at temperature 1: the step's random numbers are
# numbered in the global batch (layers/random.py), so splitting the batch
# over replicas draws the same masks and samples as one device.
CONFIG = ek.ModelConfig.from_preset(
    "tiny", vocab_size=VOCAB, max_position_embeddings=32, dropout_rate=0.1, attention_dropout_rate=0.1,
    classifier_dropout_rate=0.1,
)
# ALBERT: shared layers, a pooler for the sentence-order head.
ALBERT_CONFIG = ek.ModelConfig.from_dict(
    {**CONFIG.to_dict(), "family": "albert", "generator_size": None, "share": "all", "pooler": True}
)


def batches(count, albert=False):
    rng = np.random.RandomState(0)
    token_ids = rng.randint(5, VOCAB, size=(count * GLOBAL_BATCH, LENGTH)).astype("int32")
    segment_ids = np.zeros_like(token_ids)
    padding_mask = np.ones_like(token_ids)
    for row in range(len(token_ids)):
        real = LENGTH - (row % 7 if row % 3 == 0 else 0)  # rows of different real lengths
        padding_mask[row, real:] = 0
        token_ids[row, [0, real - 1]] = 2, 3
        if albert and row % 4:  # [CLS] A [SEP] B [SEP]; every 4th row has no B
            token_ids[row, real // 2] = 3
            segment_ids[row, real // 2 + 1 : real] = 1
    token_ids[padding_mask == 0] = 0
    batch = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    # Swaps and masks drawn once, in the pipeline, so every run sees the same ones.
    if albert:
        batch = swap_segments(batch, seed=[3, 4])
        return {key: np.asarray(value) for key, value in mask_batch(batch, ALBERT_MASKING, seed=[1, 2]).items()}
    return {key: np.asarray(value) for key, value in mask_batch(batch, MASKING, seed=[1, 2]).items()}


def build(strategy, optimizer, albert=False):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        if albert:
            model = ek.AlbertPretrainer(ALBERT_CONFIG, masking=ALBERT_MASKING)
        else:
            model = ek.ElectraPretrainer(CONFIG, masking=MASKING)
        model.compile(optimizer=optimizer())
    return model


def one_step(strategy, weights, albert=False, optimizer=None, steps=1):
    model = build(strategy, optimizer or (lambda: keras.optimizers.SGD(learning_rate=0.5)), albert)
    model.set_weights(weights)
    data = tf.data.Dataset.from_tensor_slices(batches(steps, albert)).batch(GLOBAL_BATCH)
    history = model.fit(data, epochs=1, verbose=0).history
    return model.get_weights(), history["loss"][0]


if mode == "replicas":
    # ALBERT's MLM + SOP (shared layers, the SOP mean over the rows with a
    # segment B): one SGD step on 2 replicas against one device. ELECTRA's
    # objective under MirroredStrategy runs through pretrain() below.
    mirrored = make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2, mirrored.num_replicas_in_sync
    initial = build(tf.distribute.get_strategy(), keras.optimizers.SGD, albert=True).get_weights()
    single, single_loss = one_step(tf.distribute.get_strategy(), initial, albert=True)
    double, double_loss = one_step(mirrored, initial, albert=True)
    result = {
        "replicas": mirrored.num_replicas_in_sync,
        "albert_max_update": max(float(np.max(np.abs(a - b))) for a, b in zip(single, initial)),
        "albert_max_weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(single, double)),
        "albert_loss_1": float(single_loss), "albert_loss_2": float(double_loss),
    }
elif mode in ("pretrain", "pretrain-worker"):
    # pretrain() itself: the run folder, checkpoints, chief/worker roles and
    # the data pipeline, with dropout 0.1, sampling at temperature 1 and the
    # recipe's AdamW with global-norm clipping.
    from electra_keras.training.pretrain import PretrainingOptions, pretrain

    def pretraining_run(folder, strategy):
        options = PretrainingOptions(
            out=folder, data=sys.argv[3], preset="tiny", config={"max_position_embeddings": 64},
            sequence_length=64, batch_size=8, total_steps=PRETRAIN_STEPS, checkpoint_every=PRETRAIN_STEPS // 2,
            log_every=1, strategy=strategy, learning_rate=1e-3, warmup_steps=1, export=False,
        )
        return pretrain(options)

    if mode == "pretrain":
        single = pretraining_run(f"{out}/one-device", "one_device")
        # The mirrored leg as the README runs it, `electra-keras pretrain --strategy mirrored`,
        # with the options above (and the final models exported).
        import electra_keras.training.pretrain as runner
        from electra_keras.cli import main

        replicas, chosen = [], runner.make_strategy

        def counting_strategy(*args, **kwargs):
            strategy = chosen(*args, **kwargs)
            replicas.append((type(strategy).__name__, strategy.num_replicas_in_sync))
            return strategy

        runner.make_strategy = counting_strategy
        assert main(["pretrain", "--out", f"{out}/mirrored", "--data", sys.argv[3], "--preset", "tiny",
                     "--config", "max_position_embeddings=64", "--sequence-length", "64", "--batch-size", "8",
                     "--steps", str(PRETRAIN_STEPS), "--checkpoint-every", str(PRETRAIN_STEPS // 2),
                     "--log-every", "1", "--strategy", "mirrored", "--learning-rate", "1e-3",
                     "--warmup-steps", "1"]) == 0
        with open(f"{out}/mirrored/metrics.jsonl") as file:
            mirrored_steps = [json.loads(line)["step"] for line in file][-1]
        result = {"steps": [single["steps"], mirrored_steps], "strategies": replicas}
    else:
        reservation = socket.socket()
        reservation.bind(("127.0.0.1", 0))
        print(f"PORT {reservation.getsockname()[1]}", flush=True)
        os.environ["TF_CONFIG"] = sys.stdin.readline()
        reservation.close()
        summary = pretraining_run(out, "multi_worker")
        result = {"steps": summary["steps"], "workers": len(json.loads(os.environ["TF_CONFIG"])["cluster"]["worker"])}
else:
    raise SystemExit(f"unknown mode {mode}")

if mode == "replicas":
    with open(out, "w") as file:
        json.dump(result, file)
print(json.dumps(result))
