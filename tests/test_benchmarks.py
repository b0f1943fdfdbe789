"""Every benchmark script runs in its --quick mode, so none breaks unnoticed.

They run in this process (TensorFlow is imported once); the figures they
print are not asserted, only that they ran end to end and wrote what they
promise.
"""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name):
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_pretraining_diagnosis_quick(tmp_path):
    out = tmp_path / "diagnosis.json"
    assert load("pretraining_diagnosis").main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = report["checkpoints"]
    assert [row["step"] for row in rows] == [0, 2, 4]
    for row in rows:
        assert -1 <= row["token_cosine"] <= 1 and 0 <= row["rtd_auc"] <= 1
        assert row["discriminator_rtd"] > 0 and row["generator_mlm"] > 0 and 0 < row["clip_factor"] <= 1
        # The generator gets no gradient from the discriminator's loss, only from its own.
        assert row["generator_rtd"] == 0 and row["discriminator_mlm"] == 0
    assert rows[0]["shared_moved"] == 0 and rows[1]["discriminator_moved"] > 0
    assert 0 < report["vocabulary"]["rows_used"] < report["vocabulary"]["vocab_size"]


def test_pretraining_pays_quick(tmp_path):
    out, plot = tmp_path / "pays.json", tmp_path / "pays.png"
    assert load("pretraining_pays").main(["--quick", "--tasks", "trec", "--json", str(out), "--plot", str(plot)]) == 0
    summary = json.loads(out.read_text())
    assert set(summary) == {"trec"}
    for entry in summary.values():
        assert set(entry) == {"pretrained", "random_init", "tfidf", "pretraining_minutes"}
        assert len(entry["pretrained"]) == len(entry["random_init"]) == 1
        assert all(0 <= value <= 1 for value in entry["pretrained"] + entry["random_init"])
        assert 0.7 < entry["tfidf"] < 1  # TF-IDF is a real baseline on the real splits
    curve = json.loads(out.with_name("pays_curve.json").read_text())
    assert [budget["step"] for budget in curve["tasks"]["trec"]["budgets"]] == [8]
    assert curve["flops_per_step"] > 0
    for entry in curve["tasks"].values():
        # Random init is tuned on dev: the recipe's settings against a learning rate without layer decay.
        tuning = entry["random_init_tuning"]
        assert [row["label"] for row in tuning["sweep"]] == ["random", "random-lr0.001-ld1"]
        best = max(tuning["sweep"], key=lambda row: row["dev"])
        assert tuning["chosen"] == best["label"]
        assert entry["random_init"][0] == best["test"]  # seed 0 of the chosen settings is reused
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replicate_quick(tmp_path):
    """The papers' comparison at toy size: ELECTRA vs MLM at equal FLOPs, 2 budgets each,
    fine-tuned on TREC through pretraining_pays' machinery (each objective of the other
    studies runs from the command line in test_pretrain_run.py)."""
    out = tmp_path / "replication.json"
    assert load("replicate").main(["--quick", "--studies", "comparison", "--tasks", "trec",
                                   "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {"electra", "mlm", "electra-random-init", "flops"}
    for name in ("electra", "mlm", "electra-random-init"):
        assert len(results[name]["trec"]) == 1 and 0 <= results[name]["trec"][0] <= 1
    # Equal compute: MLM gets about twice ELECTRA's steps (no generator pass), the same FLOPs.
    flops = results["flops"]
    assert abs(flops["mlm"] - flops["electra"]) / flops["electra"] < 0.15
    report = json.loads(out.with_name("replication_report.json").read_text())
    assert [len(report["curves"][name]) for name in ("electra", "mlm")] == [2, 2]
    assert report["curves"]["mlm"][-1]["step"] > report["curves"]["electra"][-1]["step"]
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_serving_latency_quick(tmp_path):
    out = tmp_path / "serving.json"
    assert load("serving_latency").main(["--quick", "--json", str(out)]) == 0
    rows = {row["variant"]: row for row in json.loads(out.read_text())["rows"]}
    assert {"Keras eager", "SavedModel, token ids", "SavedModel, raw text (TF Serving's path)",
            "TFLite float32", "TFLite dynamic-range int8", "PyTorch ElectraForSequenceClassification"} <= set(rows)
    for name, row in rows.items():
        assert row["batch1_latency"]["median_s"] > 0 and row["batch_throughput_seq_per_s"] > 0
        assert row["size_bytes"] > 0
        if name.startswith(("Keras", "SavedModel", "TFLite float32")):
            assert row["max_abs_logit_diff"] < 1e-4, name  # every float32 path serves the same model
    assert rows["TFLite dynamic-range int8"]["size_bytes"] < rows["TFLite float32"]["size_bytes"]


def test_xla_random_ops_quick(tmp_path):
    out = tmp_path / "xla.json"
    assert load("xla_random_ops").main(["--quick", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["variant"] for row in rows] == [label for label, _, _ in load("xla_random_ops").VARIANTS]
    assert all(row["median_step_s"] > 0 for row in rows)


def test_input_pipeline_quick(tmp_path):
    out = tmp_path / "pipeline.json"
    results = load("input_pipeline").main(["--quick", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    assert results["examples"] > 16 * 10 and results["examples_per_second_median"] > 0
    assert len(results["examples_per_second_runs"]) == 2


def test_export_quality_quick(tmp_path):
    out = tmp_path / "export.json"
    assert load("export_quality").main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {row["model"]: row for row in report["rows"]}
    assert set(rows) == {"Keras", "SavedModel (raw text)", "TFLite dynamic-range int8", "TFLite raw text, float32"}
    assert report["sentences"] == 64 and rows["Keras"]["max_abs_logit_diff"] == 0
    # Float32 exports, with tokenization in the graph or in the interpreter, give Keras' logits.
    assert rows["SavedModel (raw text)"]["max_abs_logit_diff"] < 1e-4
    assert rows["TFLite raw text, float32"]["max_abs_logit_diff"] < 1e-4
    assert all(0 <= row["accuracy"] <= 1 for row in rows.values())


def test_finetune_sentiment_quick(tmp_path):
    out = tmp_path / "sentiment.json"
    assert load("finetune_sentiment").main(["--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"random"}
    for entry in results.values():
        assert 0 <= entry["test"]["accuracy"] <= 1 and 0 <= entry["dev"]["accuracy"] <= 1


def test_pretraining_throughput_quick(tmp_path):
    out = tmp_path / "throughput.json"
    assert load("pretraining_throughput").main(["--quick", "--models", "electra-small", "--variants", "float32",
                                                "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["rows"]
    assert row["sequences_per_s"] > 0 and row["pytorch_sequences_per_s"] > 0 and 0 < row["mfu"] < 1
    (model,) = report["models"]
    # The analytic FLOP count (electra_keras.pretraining.flops) against torch's own counter of the same step.
    assert abs(model["analytic_flops_per_step"] / model["torch_counted_flops_per_step"] - 1) < 0.02


def test_albert_memory_quick(tmp_path):
    out = tmp_path / "albert.json"
    assert load("albert_memory").main(["--quick", "--models", "albert-base,albert-base-unshared",
                                       "--json", str(out)]) == 0
    shared, unshared = json.loads(out.read_text())["results"]
    # Two layers sharing one set of weights store one layer's worth; unshared, two.
    assert shared["parameters"] < unshared["parameters"]
    assert shared["peak_rss_mib"] > 0 and shared["sequences_per_s"] > 0


def test_official_optimizer_quick(tmp_path):
    out = tmp_path / "optimizer.json"
    assert load("official_optimizer").main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["curves"]) == {"adamw", "official_adamw"}
    # Same seed, data and vocabulary: only the update rule differs, so the curves part.
    steps = {name: [record["step"] for record in records] for name, records in report["curves"].items()}
    assert steps["adamw"] == steps["official_adamw"] and steps["adamw"][-1] == 4
    assert report["train_loss"]["adamw"] != report["train_loss"]["official_adamw"]
    assert set(report["final"]["adamw"]) >= {"val_loss", "val_rtd_auc"}
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
