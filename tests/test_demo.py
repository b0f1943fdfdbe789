"""`make demo` (examples/demo.py) end to end at a tiny size, including its last
step: examples/serve.py on its exports as the README runs it."""

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import keras

import electra_keras  # noqa: F401  (registers the task models for loading)
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The sentences examples/demo.py classifies with examples/serve.py at its end (its top level
# only imports and reads settings; main() does not run).
REVIEWS = runpy.run_path(str(ROOT / "examples" / "demo.py"))["REVIEWS"]


@pytest.mark.slow
def test_demo_runs_every_step_and_serve_answers_from_its_exports(tmp_path):
    runs, exports = tmp_path / "runs", tmp_path / "saved_models"
    # DEMO_PRESET=tiny instead of MiniLM-L6, 2 steps, 64 sentences: every step of the demo, small.
    env = {**os.environ, "DEMO_STEPS": "2", "DEMO_FINETUNE_EPOCHS": "1", "DEMO_OUT": str(runs),
           "DEMO_EXPORT": str(exports), "DEMO_PRESET": "tiny", "DEMO_EXAMPLES": "64", "TF_CPP_MIN_LOG_LEVEL": "2"}
    demo = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True,
                          timeout=900, env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]

    # 1-2. Pretraining: 2 steps logged, held-out metrics at the end, the models written.
    pretraining = runs / "pretraining"
    assert json.loads((pretraining / "run.json").read_text())["total_steps"] == 2
    records = [json.loads(line) for line in (pretraining / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if not r.get("evaluation")] == [1, 2]
    evaluation = [r for r in records if r.get("evaluation")][-1]
    assert evaluation["step"] == 2 and 0.0 <= evaluation["val_rtd_auc"] <= 1.0
    assert (pretraining / "discriminator.keras").is_file()
    # 3. MiniLM on raw sentences: three cosine similarities, the musical one first.
    assert "+0." in demo.stdout and "Someone performs music" in demo.stdout.split("cosine similarity")[1][:200]
    # 4. Both fine-tunes on 64 training sentences (2 updates of 32), scored on 64 dev and test sentences.
    for name, init in (("sentiment", str(pretraining)),
                       ("sentiment-random", f"random weights, the architecture of {pretraining}")):
        scores = json.loads((runs / name / "scores.json").read_text())
        assert scores["init"] == init and scores["train_examples"] == 64 and scores["total_steps"] == 2
        assert scores["dev_examples"] == scores["test_examples"] == 64
        assert 0.0 <= scores["test"]["accuracy"] <= 1.0
    model = keras.saving.load_model(runs / "sentiment" / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == 2
    # 5. The exports, compared with Keras on 64 test sentences, then served in a fresh process.
    saved_model, tflite = exports / "sentiment" / "1", exports / "sentiment-tflite" / "model.tflite"
    assert (saved_model / "saved_model.pb").is_file() and tflite.stat().st_size > 0
    assert 'name: "sentiment"' in (exports / "models.config").read_text()
    assert "on the 64 test sentences" in demo.stdout
    assert demo.stdout.count("max |logit - Keras|") == 2

    # The demo ends with the README's command, examples/serve.py --saved-model DIR --tflite FILE TEXT ...,
    # in a fresh process; its table (printed to the same stdout) must give the Keras model's answers.
    served = demo.stdout.split("reloaded in a fresh process (examples/serve.py):", 1)[1]
    header, *rows = [line for line in served.splitlines() if line.strip()][:len(REVIEWS) + 1]
    assert header.split() == ["SavedModel", "TFLite", "text"]
    assert [row.split(maxsplit=4)[4] for row in rows] == REVIEWS
    probabilities = model.predict_probabilities(REVIEWS)
    for row, expected, p in zip(rows, model.predict_labels(REVIEWS), probabilities):
        label, probability, lite_label, lite_probability = row.split()[:4]
        # The SavedModel is the Keras model (a near-tie may break either way); TFLite is int8.
        assert probability == f"{np.max(p):.2f}"
        assert label == expected or abs(p[0] - p[1]) < 1e-4
        assert lite_label in model.label_names and abs(float(lite_probability) - np.max(p)) < 0.05
