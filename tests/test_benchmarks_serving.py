"""The shipping and fine-tuning benchmarks in their --quick modes (see test_benchmarks.py)."""

import json

from benchmark_scripts import load


def test_serving_latency_quick(tmp_path):
    out = tmp_path / "serving.json"
    assert load("serving_latency").main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {row["variant"]: row for row in report["rows"]}
    assert {"Keras eager", "SavedModel, token ids", "SavedModel, raw text (TF Serving's path)",
            "TFLite float32", "TFLite dynamic-range int8", "PyTorch ElectraForSequenceClassification"} <= set(rows)
    for name, row in rows.items():
        assert row["batch1_latency"]["median_s"] > 0 and row["batch_throughput_seq_per_s"] > 0
        assert row["size_bytes"] > 0
        if name.startswith(("Keras", "SavedModel", "TFLite float32")):
            assert row["max_abs_logit_diff"] < 1e-4, name  # every float32 path serves the same model
    assert rows["TFLite dynamic-range int8"]["size_bytes"] < rows["TFLite float32"]["size_bytes"]
    assert report["request_tokens"] == 16  # the first table's request fills the sequence
    real = json.loads(out.read_text())["real_lengths"]
    assert 3 <= real["median_tokens"] <= real["p90_tokens"] <= real["max_tokens"] <= 16
    assert {row["variant"] for row in real["rows"]} >= {"SavedModel, raw text (bucketed padding)",
                                                        "PyTorch (padded to the longest)"}
    assert all(row["batch_throughput_seq_per_s"] > 0 for row in real["rows"])


def test_profile_tflite_quick(tmp_path):
    out = tmp_path / "profile.json"
    assert load("profile_tflite").main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    census = report["census"]
    assert census["ops"]["FULLY_CONNECTED"] >= 4 and census["ops"]["BATCH_MATMUL"] >= 2
    # One XNNPACK graph after the embedding lookups: no op between layers splits it
    # (77 partitions before additive_attention_masking and positionwise, on electra-small).
    assert 1 <= census["partitions"] <= 3, census
    assert not set(census["outside_xnnpack"]) & {"SELECT_V2", "REDUCE_PROD", "PACK", "FULLY_CONNECTED"}, census
    assert report["timing"]["median_ms"] > 0 and report["timing"]["calls"] >= 3
    if report["missing_profile"] is None:  # Linux perf is there (the project's machines have it)
        assert abs(sum(row["share"] for row in report["kinds"]) - 1) < 0.02
        kinds = {row["kind"] for row in report["kinds"]}
        assert "int8 matmul (dynamic-range FULLY_CONNECTED)" in kinds, kinds
    else:
        assert "perf" in report["missing_profile"] and report["kinds"] is None


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
