"""tf.distribute: one step on 2 replicas equals one step on 1 device, and a
real two-worker MultiWorkerMirroredStrategy run on 127.0.0.1."""

import json
import os
import socket
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


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_together_and_agree(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(run("worker", tmp_path / f"worker{index}.npz", {"TF_CONFIG": json.dumps(tf_config)}))
    try:
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
