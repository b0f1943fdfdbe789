"""tf.distribute: one step on 2 replicas equals one step on 1 device, and a
real two-worker MultiWorkerMirroredStrategy run on 127.0.0.1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = str(Path(__file__).with_name("distributed_worker.py"))


def run(mode, out, env=None, timeout=240):
    return subprocess.Popen(
        [sys.executable, WORKER, mode, str(out)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process, timeout=240):
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def test_two_replicas_take_the_same_step_as_one_device(tmp_path):
    result = finish(run("replicas", tmp_path / "replicas.json"))
    assert result["replicas"] == 2
    # The step moved the weights (SGD, lr 0.5), and both ways moved them alike.
    assert result["max_update"] > 1e-3
    assert result["max_weight_diff"] <= 1e-5, result
    assert abs(result["loss_1"] - result["loss_2"]) <= 1e-5 * abs(result["loss_1"])
    # ALBERT (MLM + SOP, shared layers) too.
    assert result["albert_max_update"] > 1e-3
    assert result["albert_max_weight_diff"] <= 1e-5, result
    assert abs(result["albert_loss_1"] - result["albert_loss_2"]) <= 1e-5 * abs(result["albert_loss_1"])
    # Three AdamW steps with global-norm clipping: Keras clips each replica's share before summing;
    # the pretrainers clip the sum (Pretrainer._clip_across_replicas). Keras' way differed by 2.4e-4.
    assert result["adamw_max_update"] > 1e-4
    assert result["adamw_max_weight_diff"] <= 1e-5, result


def test_two_workers_train_together_and_agree(tmp_path):
    """Ports without the race: each worker binds port 0 itself, reports the
    port it got, and holds it until the parent has sent the cluster made of
    the reported ports; it releases it right before its TensorFlow server
    binds it (TensorFlow's gRPC server cannot share a bound port). Before,
    the parent probed free ports and closed them, and any process could take
    one during the seconds the workers took to start."""
    processes = [subprocess.Popen([sys.executable, WORKER, "worker", str(tmp_path / f"worker{index}.npz")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for index in range(2)]
    try:
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
        results = [finish(process) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [r["workers"] for r in results] == [2, 2]
    assert [r["steps"] for r in results] == [3, 3]
    first, second = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert len(first.files) == len(second.files) > 0
    for name in first.files:
        np.testing.assert_allclose(first[name], second[name], atol=1e-6, err_msg=name)

