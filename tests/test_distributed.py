"""tf.distribute: pretrain() itself (the CLI's path) under MirroredStrategy on
2 logical CPUs and under MultiWorkerMirroredStrategy with 2 workers on
127.0.0.1, each equal to one device; and ALBERT's step on 2 replicas.

The scheme that makes the draws equal: every random number of a training
step is a function of (seed, optimizer step, draw, the element's place in
the global batch); replica r numbers its elements from r x its element count
(electra_keras/layers/random.py). Masks are drawn in tf.data on the global
batch, keyed by (seed, batch index), before the batch is split, and every
iterator of the pretraining dataset yields the same batches."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_keras.data import packages
from electra_keras.data.pretraining_data import prepare_pretraining_data

WORKER = str(Path(__file__).with_name("distributed_worker.py"))


def run(mode, out, env=None, timeout=240):
    return subprocess.Popen(
        [sys.executable, WORKER, mode, str(out)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_workers(mode, outs, extra=()):
    """Two worker processes that bind port 0 themselves and report it; each
    gets the cluster of the reported ports on stdin."""
    processes = [subprocess.Popen([sys.executable, WORKER, mode, str(out), *extra], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for out in outs]
    ports = []
    for process in processes:
        line = process.stdout.readline()
        assert line.startswith("PORT "), line + process.stderr.read()[-3000:]
        ports.append(int(line.split()[1]))
    workers = [f"127.0.0.1:{port}" for port in ports]
    for index, process in enumerate(processes):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        process.stdin.write(json.dumps(tf_config) + "\n")
        process.stdin.flush()
    return processes


def finish(process, timeout=240):
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def test_albert_step_on_two_replicas_equals_one_device(tmp_path):
    """ALBERT's MLM + SOP (shared layers) with SGD at lr 0.5: one step on 2
    replicas moves the weights as one device does (ELECTRA: pretrain() below)."""
    result = finish(run("replicas", tmp_path / "replicas.json"), timeout=400)
    assert result["replicas"] == 2
    assert result["albert_max_update"] > 1e-3  # the step moved the weights
    assert result["albert_max_weight_diff"] <= 1e-5, result
    assert abs(result["albert_loss_1"] - result["albert_loss_2"]) <= 1e-5 * abs(result["albert_loss_1"])


# --- pretrain() itself ----------------------------------------------------------


@pytest.fixture(scope="module")
def pretraining_runs(tmp_path_factory):
    """pretrain() on one device and under MirroredStrategy on 2 logical CPUs
    (4 steps, checkpoints at 2 and 4), on 300 lines of WikiText-2."""
    folder = tmp_path_factory.mktemp("distributed-pretrain")
    lines = gzip.open(packages.wikitext2_file("valid"), "rt", encoding="utf-8").read().splitlines()
    (folder / "corpus.txt").write_text("\n".join(lines[:300]), encoding="utf-8")
    prepare_pretraining_data([str(folder / "corpus.txt")], packages.bert_uncased_vocab(), folder / "data",
                             sequence_length=64, workers=1, verbose=False)
    result = finish(run_pretrain(folder), timeout=400)
    assert result["steps"] == [4, 4]
    return folder, result


def run_pretrain(folder):
    return subprocess.Popen([sys.executable, WORKER, "pretrain", str(folder), str(folder / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def checkpoint(run: Path, step: int) -> dict:
    reader = tf.train.load_checkpoint(str(run / "checkpoints" / f"ckpt-{step}"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "/.ATTRIBUTES/VARIABLE_VALUE" in name and "save_counter" not in name}


def assert_same_run(run: Path, reference: Path):
    for step in (2, 4):
        ours, theirs = checkpoint(run, step), checkpoint(reference, step)
        assert sorted(ours) == sorted(theirs) and len(ours) > 100  # weights and optimizer slots
        worst = max((float(np.max(np.abs(ours[name] - theirs[name]))), name) for name in ours)
        assert worst[0] <= 1e-5, (step, worst)
    # Every logged training metric, step by step.
    records = [[json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
               for folder in (run, reference)]
    assert [r["step"] for r in records[0]] == [r["step"] for r in records[1]] == [1, 2, 3, 4]
    for ours, theirs in zip(*records):
        for key in ("loss", "mlm_loss", "rtd_loss", "rtd_accuracy"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), (ours["step"], key)


@pytest.mark.slow
def test_pretrain_under_mirrored_equals_one_device(pretraining_runs):
    """4 steps of `electra-keras pretrain --strategy mirrored` on 2 replicas against
    pretrain() on one device, same global batch: dropout 0.1, generator samples at
    temperature 1, AdamW with global-norm clipping. Before the pretraining dataset
    yielded the same batches to every iterator and the clip used the norm of the
    summed embedding rows, they were 5e-4 apart after step 1."""
    folder, result = pretraining_runs
    one_device, mirrored = folder / "one-device", folder / "mirrored"
    assert result["strategies"] == [["MirroredStrategy", 2]]
    assert json.loads((mirrored / "run.json").read_text())["strategy"] == "mirrored"
    moved = checkpoint(one_device, 4)
    before = checkpoint(one_device, 2)
    assert max(float(np.max(np.abs(moved[name] - before[name]))) for name in moved) > 1e-4  # it trained
    assert_same_run(mirrored, one_device)
    last = [json.loads(line) for line in (mirrored / "metrics.jsonl").read_text().splitlines()][-1]
    assert all(np.isfinite(last[name]) for name in ("loss", "rtd_auc", "mlm_accuracy", "flops"))
    # The chief exported the final models.
    assert keras.saving.load_model(mirrored / "discriminator.keras").config.hidden_size == 32


@pytest.mark.slow
def test_pretrain_under_two_workers_equals_one_device(pretraining_runs, tmp_path):
    """pretrain() under MultiWorkerMirroredStrategy with 2 workers on loopback
    (the chief keeps out/checkpoints and metrics.jsonl, the other worker's
    folder is removed) against the one-device run of the same global batch.

    Ports without the race: each worker binds port 0 itself, reports the port
    it got, and holds it until the parent has sent the cluster made of the
    reported ports; it releases it right before its TensorFlow server binds it
    (TensorFlow's gRPC server cannot share a bound port)."""
    folder, _ = pretraining_runs
    run = tmp_path / "two-workers"
    processes = start_workers("pretrain-worker", [run, run], [str(folder / "data")])
    try:
        results = [finish(process, timeout=400) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [r["steps"] for r in results] == [4, 4] and [r["workers"] for r in results] == [2, 2]
    assert not list(run.glob(".worker-*"))
    assert_same_run(run, folder / "one-device")
