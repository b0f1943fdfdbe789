"""Every benchmark script runs in its --quick mode, so none breaks unnoticed: the
pretraining-quality studies here, speed in test_benchmarks_speed.py, shipping in
test_benchmarks_serving.py (three files, so that `make test`'s two processes share them).

They run in this process (TensorFlow is imported once); the figures they
print are not asserted, only that they ran end to end and wrote what they
promise, with the values that must hold whatever the machine.
"""

import json

import pytest

from benchmark_scripts import load


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_replicate_quick(tmp_path, capsys):
    """The papers' comparison at toy size: ELECTRA vs MLM at equal FLOPs, 2 budgets each,
    fine-tuned on TREC through pretraining_pays' machinery (each objective of the other
    studies runs from the command line in test_pretrain_run.py)."""
    out, ledger = tmp_path / "replication.json", tmp_path / "ledger.json"
    arguments = ["--quick", "--studies", "comparison", "--tasks", "trec", "--ledger", str(ledger), "--markdown"]
    assert load("replicate").main([*arguments, "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    # Every fine-tune is in the ledger: a second run in a new (empty) run folder reads the
    # same results back without pretraining or fine-tuning anything.
    runs = json.loads(ledger.read_text())["runs"]
    assert sorted(runs) == sorted(f"{arm}/trec/seed-0" for arm in (
        *(f"{name}/step-{step}" for name, points in json.loads(
            out.with_name("replication_report.json").read_text())["curves"].items() for step in
          [point["step"] for point in points]), "electra-random-init"))
    printed = capsys.readouterr().out
    # The study's markdown table: both objectives at both budgets, then the random-init floor.
    table = printed.split("#### Equal compute", 1)[1]
    assert [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and
            not line.startswith("| objective")] == ["electra", "electra", "mlm", "mlm", "electra-random-init"]
    assert "ELECTRA minus MLM at the largest budget, median, points: trec " in table
    again = tmp_path / "again.json"
    assert load("replicate").main([*arguments, "--json", str(again)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("not pretraining it again") == 2 and "Fine-tuning" not in printed
    assert json.loads(again.read_text()) == results
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


def test_replicate_writes_its_results_section_in_place(tmp_path):
    replicate = load("replicate")
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\n## Earlier\n\ntext\n")
    report = {"budget": "small", "seeds": 3, "tasks": ["trec"], "machine": {
        "cpu": "Test CPU", "logical_cpus": 2, "usable_cpus": 2, "memory_gib": 1.0, "tensorflow_gpus": [],
        "torch_gpus": [], "versions": {"tensorflow": "2.21.0"}, "load_average_1m": 0.0,
        "os": "Linux", "python": "3.11"}}
    replicate.write_results_section(report, "first tables", path)
    first = path.read_text()
    assert first.startswith("# Results\n\n## Earlier\n\ntext\n\n## The papers' claims at our scale")
    assert "first tables" in first and "Test CPU" in first
    # Text after the section (a later section, notes) stays; the tables are replaced, not appended.
    path.write_text(first + "\n## Later\n\nkept\n")
    replicate.write_results_section(report, "second tables", path)
    second = path.read_text()
    assert "first tables" not in second and second.count("second tables") == 1
    assert second.count("## The papers' claims at our scale") == 1 and second.endswith("## Later\n\nkept\n")


def test_performance_summary_merges_each_scripts_ratios(tmp_path):
    common = load("common")
    path = str(tmp_path / "performance.json")
    machine = {"cpu": "Test CPU", "tensorflow_gpus": [], "load_average_1m": 0.1}
    common.record_performance({"mfu_fp32": 0.5123456, "train_fp32_vs_pytorch": 1.7}, "a.py", machine, path)
    summary = common.record_performance({"savedmodel_b1_vs_pytorch": 0.8, "mfu_fp32": 0.6}, "b.py", machine, path)
    assert json.loads((tmp_path / "performance.json").read_text()) == summary
    # Later runs replace their own keys and keep the others, in the order.
    assert [key for key in summary if key != "sources"] == ["train_fp32_vs_pytorch", "mfu_fp32",
                                                            "savedmodel_b1_vs_pytorch"]
    assert summary["mfu_fp32"] == 0.6 and summary["train_fp32_vs_pytorch"] == 1.7
    assert summary["sources"]["mfu_fp32"]["script"] == "b.py"
    assert summary["sources"]["train_fp32_vs_pytorch"]["cpu"] == "Test CPU"
    with pytest.raises(ValueError, match="unknown keys \\['speedup'\\]"):
        common.record_performance({"speedup": 2.0}, "c.py", machine, path)
    # A figure the machine cannot measure is null, with the reason; the others stay.
    summary = common.record_performance({"train_fp32_vs_pytorch": 1.2}, "c.py", machine, path,
                                        not_measured={"train_bf16_vs_pytorch": "no bfloat16 hardware"})
    assert summary["train_bf16_vs_pytorch"] is None and summary["train_fp32_vs_pytorch"] == 1.2
    assert summary["sources"]["train_bf16_vs_pytorch"]["not_measured"] == "no bfloat16 hardware"
    assert "not_measured" not in summary["sources"]["train_fp32_vs_pytorch"]
    assert summary["mfu_fp32"] == 0.6
    assert list(summary)[:2] == ["train_fp32_vs_pytorch", "train_bf16_vs_pytorch"]


def test_throughput_ratios_come_from_full_cpu_runs_only():
    throughput = load("pretraining_throughput")
    rows = [{"model": "electra-small", "variant": "float32", "ratio_ours_to_pytorch": 1.6, "mfu": 0.61},
            {"model": "electra-small", "variant": "mixed_bfloat16", "ratio_ours_to_pytorch": 1.3, "mfu": 0.2},
            {"model": "electra-base", "variant": "float32", "ratio_ours_to_pytorch": 2.0, "mfu": 0.7}]
    assert throughput.performance_ratios(rows, "cpu", quick=False) == {
        "train_fp32_vs_pytorch": 1.6, "mfu_fp32": 0.61, "train_bf16_vs_pytorch": 1.3}
    assert throughput.performance_ratios(rows, "cpu", quick=True) == {}
    assert throughput.performance_ratios(rows, "gpu", quick=False) == {}
    # Without bfloat16 hardware both frameworks emulate it: no bf16 ratio.
    assert throughput.performance_ratios(rows, "cpu", quick=False, bfloat16_native=False) == {
        "train_fp32_vs_pytorch": 1.6, "mfu_fp32": 0.61}
    common = load("common")
    assert common.native_bfloat16({"cpu_features": ["avx2", "avx512_bf16"]})
    assert not common.native_bfloat16({"cpu_features": ["avx2", "fma", "avx512f"]})
