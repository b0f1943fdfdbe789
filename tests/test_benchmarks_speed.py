"""The speed and memory benchmarks in their --quick modes (see test_benchmarks.py)."""

import json

from benchmark_scripts import load


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


def test_xla_random_ops_quick(tmp_path):
    out = tmp_path / "xla.json"
    assert load("xla_random_ops").main(["--quick", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["variant"] for row in rows] == [label for label, _, _ in load("xla_random_ops").VARIANTS]
    assert all(row["median_step_s"] > 0 for row in rows)


def test_albert_memory_quick(tmp_path):
    out = tmp_path / "albert.json"
    assert load("albert_memory").main(["--quick", "--models", "albert-base,albert-base-unshared",
                                       "--json", str(out)]) == 0
    shared, unshared = json.loads(out.read_text())["results"]
    # Two layers sharing one set of weights store one layer's worth; unshared, two.
    assert shared["parameters"] < unshared["parameters"]
    assert shared["peak_rss_mib"] > 0 and shared["sequences_per_s"] > 0


def test_input_pipeline_quick(tmp_path):
    out = tmp_path / "pipeline.json"
    results = load("input_pipeline").main(["--quick", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    assert results["examples"] > 16 * 10 and results["examples_per_second_median"] > 0
    assert len(results["examples_per_second_runs"]) == 2


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


def test_profile_ops_quick(tmp_path):
    out = tmp_path / "profile.json"
    assert load("profile_ops").main(["--quick", "--json", str(out)]) == 0
    targets = json.loads(out.read_text())["targets"]
    assert set(targets) == {"train", "serve"}
    for target, report in targets.items():
        types = {row["name"]: row for row in report["by_type"]}
        # Every step multiplies matrices; the shares are of the profiled ops' self time.
        assert any("MatMul" in name for name in types), (target, sorted(types))
        assert abs(sum(row["share"] for row in report["by_type"]) - 1) < 1e-6
        assert {row["name"] for row in report["by_part"]} >= {"attention", "feed-forward"}
    assert "optimizer" in {row["name"] for row in targets["train"]["by_part"]}


def test_the_gpu_script_runs_the_amp_xla_variant(tmp_path):
    """benchmarks/gpu_throughput.sh needs a GPU; its variant and flags are checked here on the CPU."""
    import re
    import shlex
    from pathlib import Path

    script = (Path(__file__).parents[1] / "benchmarks" / "gpu_throughput.sh").read_text()
    calls = re.findall(r'benchmarks/pretraining_throughput\.py((?:[^\n]|\\\n)*?)\|', script)
    assert len(calls) == 2
    throughput = load("pretraining_throughput")
    for call in calls:
        args = throughput.parse_args([word.replace('"$OUT', str(tmp_path)).strip('"')
                                      for word in shlex.split(call.replace("\\\n", " "))])
        assert args.variants == ["float32", "mixed_bfloat16_xla"] and args.batch_size >= 256
    out = tmp_path / "amp.json"
    assert throughput.main(["--quick", "--models", "electra-small", "--variants", "mixed_bfloat16_xla",
                            "--no-torch", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["variant"] == "mixed_bfloat16_xla" and row["sequences_per_s"] > 0 and 0 < row["mfu"] < 1
