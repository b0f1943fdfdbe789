"""The speed and memory benchmarks in their --quick modes (see test_benchmarks.py)."""

import json

import pytest
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
    assert [row["variant"] for row in rows] == list(load("xla_random_ops").QUICK_VARIANTS)
    assert all(row["median_step_s"] > 0 for row in rows)


@pytest.mark.slow
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


def test_fit_overhead_quick(tmp_path):
    out = tmp_path / "overhead.json"
    script = load("fit_overhead")
    assert script.main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    traced = {name for name in report["one_off_s"] if name.startswith("trace ") and "update (" in name}
    assert [name.split("'s update")[0] for name in sorted(traced)] == [
        "trace electra_keras AdamW", "trace keras.optimizers.AdamW"]
    assert set(report["one_off_s"]) - traced == {
        "build the tokenizer from vocab.txt", "trace the tokenizer, single texts", "trace the tokenizer, pairs",
        "open an iterator of a raw-text dataset"}
    assert all(value > 0 for value in report["one_off_s"].values())
    ours, threaded, plain = report["fits"]
    assert (ours["variant"], threaded["variant"], plain["variant"]) == script.VARIANTS
    # 16 texts, batch 8, 2 epochs: the same 4 steps; one repeated dataset against
    # Keras' new iterator before and after every epoch.
    assert ours["steps"] == threaded["steps"] == plain["steps"] == 4
    assert ours["iterators_opened"] == threaded["iterators_opened"] == 1 and plain["iterators_opened"] == 2 * 2
    for fit in (ours, threaded, plain):
        assert 0 < fit["first_step_s"] <= fit["total_s"] and fit["median_step_s"] > 0
        run, = fit["runs"]
        assert len(run["step_ends_s"]) == 4
        assert run["after_last_step_s"] == pytest.approx(run["total_s"] - run["step_ends_s"][-1])
        assert run["after_last_step_s"] >= 0


def test_every_benchmark_script_has_a_quick_test():
    """A script that no test runs in --quick mode can break unnoticed."""
    import re
    from pathlib import Path

    from benchmark_scripts import BENCHMARKS

    scripts = {path.stem for path in BENCHMARKS.glob("*.py") if "def main(" in path.read_text()}
    assert {"pretraining_throughput", "serving_latency", "fit_overhead"} <= scripts
    tests = "".join(path.read_text() for path in Path(__file__).parent.glob("test_benchmarks*.py"))
    for name in sorted(scripts):
        assert '"--quick"' in (BENCHMARKS / f"{name}.py").read_text(), f"benchmarks/{name}.py has no --quick"
        assert re.search(rf'load\("{name}"\)', tests), f"no test_benchmarks*.py loads benchmarks/{name}.py"


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
    report = json.loads(out.read_text())
    targets = report["targets"]
    assert report["dtype_policy"] == "float32" and set(targets) == {"train", "serve"}
    for target, summary in targets.items():
        types = {row["name"]: row for row in summary["by_type"]}
        # Every step multiplies matrices; the shares are of the profiled ops' self time.
        assert any("MatMul" in name for name in types), (target, sorted(types))
        assert abs(sum(row["share"] for row in summary["by_type"]) - 1) < 1e-6
        assert {row["name"] for row in summary["by_part"]} >= {"attention", "feed-forward"}
    assert "optimizer" in {row["name"] for row in targets["train"]["by_part"]}

    # The mixed_bfloat16 step really is another graph: it casts float32 variables to bfloat16.
    mixed = tmp_path / "mixed.json"
    assert load("profile_ops").main(["--quick", "--target", "train", "--dtype-policy", "mixed_bfloat16",
                                     "--json", str(mixed)]) == 0
    mixed = json.loads(mixed.read_text())
    assert mixed["dtype_policy"] == "mixed_bfloat16" and set(mixed["targets"]) == {"train"}

    def casts(train):
        return sum(row["ops_per_step"] for row in train["by_type"] if row["name"] == "Cast")

    assert casts(mixed["targets"]["train"]) > casts(targets["train"]) + 10


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


# --- pretraining_throughput.py --peer tf-models: the peer's venv and its protocol -----------------------------------

# Speaks benchmarks/peer_steps/tf_models_electra.py's protocol with fixed timings, for machines without the peer's venv.
FAKE_PEER = '''
import json, sys
import numpy as np

with open(sys.argv[1]) as config_file:
    config = json.load(config_file)
with np.load(sys.argv[2]) as arrays:
    batches = {name: arrays[name] for name in arrays.files}
print(json.dumps({"ready": True, "parameters": int(batches["masked_token_ids"].size),
                  "trained_parameters": config["vocab_size"], "versions": {}}), flush=True)
runs = 0
for line in sys.stdin:
    command, *count = line.split()
    if command == "quit":
        break
    runs += 1
    if runs > config.get("runs_before_crash", runs):
        sys.exit("fake peer: crashed on purpose")
    print(json.dumps({"seconds": 0.25 * int(count[0])}), flush=True)
'''


def _peer_batches(count=2, batch_size=2, length=16, predictions=3, vocab_size=1000):
    import numpy as np

    rng = np.random.default_rng(0)
    batches = []
    for _ in range(count):
        token_ids = rng.integers(100, vocab_size, (batch_size, length)).astype("int32")
        positions = np.sort(np.stack([rng.choice(np.arange(1, length - 1), predictions, replace=False)
                                      for _ in range(batch_size)]), axis=1).astype("int32")
        masked = token_ids.copy()
        np.put_along_axis(masked, positions, 103, axis=1)
        batches.append({"token_ids": token_ids, "masked_token_ids": masked,
                        "segment_ids": np.zeros_like(token_ids), "padding_mask": np.ones_like(token_ids),
                        "masked_positions": positions, "masked_ids": np.take_along_axis(token_ids, positions, 1),
                        "masked_weights": np.ones(positions.shape, "float32")})
    return batches


def test_peer_venvs_are_made_once_and_made_again_when_broken(tmp_path):
    import dataclasses

    import pytest

    load("pretraining_throughput")  # benchmarks/ on sys.path
    import peers

    catalog = {"fake": peers.Peer(requirements=("a==1",), no_deps=("b==2",), import_check="pass",
                                  script=tmp_path / "fake.py")}
    installs = []

    def installer(directory, peer, log):
        installs.append(peer.pins())
        (directory / "bin").mkdir(parents=True)
        (directory / "bin" / "python").write_text("")

    def broken_installer(directory, peer, log):
        directory.mkdir(parents=True)
        (directory / "half-installed").write_text("")
        raise peers.PeerError("pip install failed")

    root = tmp_path / "peers"
    venv = root / "fake"

    def ensure(chosen_installer):
        return peers.ensure_peer_venv("fake", root, installer=chosen_installer, log=lambda _: None, peers=catalog)

    with pytest.raises(peers.PeerError, match="pip install failed"):
        ensure(broken_installer)
    assert not (venv / peers.MARKER).exists()
    # The broken venv is removed and made again; then it is reused as it is.
    assert ensure(installer) == venv / "bin" / "python"
    assert not (venv / "half-installed").exists() and len(installs) == 1
    assert ensure(installer) == venv / "bin" / "python" and len(installs) == 1
    # Other pins: made again.
    catalog["fake"] = dataclasses.replace(catalog["fake"], requirements=("a==2",))
    ensure(installer)
    assert installs == [{"requirements": ["a==1"], "no_deps": ["b==2"]},
                        {"requirements": ["a==2"], "no_deps": ["b==2"]}]
    with pytest.raises(peers.PeerError, match="unknown peer 'nope'"):
        peers.ensure_peer_venv("nope", root, installer=installer, peers=catalog)
    with pytest.raises(peers.PeerError, match="left no"):
        peers.ensure_peer_venv("fake", tmp_path / "other", installer=lambda *_: None, log=lambda _: None,
                               peers=catalog)

    real = peers.PEERS["tf-models"]
    assert real.script.exists() and "tensorflow==2.20.0" in real.requirements
    assert all("==" in pin for pin in real.requirements + real.no_deps)


def test_a_peer_process_is_timed_between_our_runs(tmp_path):
    """With the real tf-models script where its venv was made (a --peer run made it), else a fake
    child speaking the same protocol: the same plumbing, start to table."""
    import sys

    from electra_keras.config import ModelConfig

    throughput = load("pretraining_throughput")
    import peers

    config = throughput.tf_models_peer_config(
        ModelConfig.from_preset("electra-small", num_layers=1, vocab_size=1000),
        batch_size=2, num_predictions=3, learning_rate=5e-4, warmup=1)
    real_venv = peers.DEFAULT_ROOT / "tf-models"
    if (real_venv / peers.MARKER).exists():
        python, script = real_venv / "bin" / "python", None
    else:
        python, script = sys.executable, tmp_path / "fake_peer.py"
        script.write_text(FAKE_PEER)
    order = []

    def ours(steps):
        order.append("ours")
        return 0.5 * steps

    process = throughput.start_peer("tf-models", config, _peer_batches(), print, python=python, script=script)
    try:
        def peer(steps):
            order.append("tf_models")
            return process.run(steps)

        timings, errors = throughput.interleaved_timings({"ours": ours, "tf_models": peer}, steps=2, repeats=3)
    finally:
        process.close()
    assert order == ["ours", "tf_models"] * 3 and errors == {}
    assert timings["ours"].samples == (0.5, 0.5, 0.5) and len(timings["tf_models"].samples) == 3
    assert process.process.returncode == 0  # it quit when asked
    if script is None:  # 1-layer ELECTRA-small sizes: the encoders alone hold more than the vocabulary table
        assert process.ready["trained_parameters"] > 1000 * 128 and process.ready["versions"]["tensorflow"] == "2.20.0"
    else:
        assert timings["tf_models"].samples == (0.25, 0.25, 0.25) and process.ready["parameters"] == 2 * 2 * 16

    row = {"model": "electra-small", "variant": "float32", "batch_size": 4, "sequences_per_s": 8.0,
           "tokens_per_s": 1024.0, "step": {"median_s": 0.5, "spread": 0.0}, "model_flops_per_s": 1e12,
           "mfu": 0.5, "pytorch": "float32 eager"}
    row.update(throughput.tf_models_fields(throughput.Timing((0.25, 0.25)), 4, 0.5))
    assert json.loads(json.dumps(row))["ratio_ours_to_tf_models"] == 0.5
    assert throughput.table_rows([row], "tf-models")[0][-2:] == ["16.00", "0.50"]
    assert throughput.table_rows([{**row, "tf_models_error": "PeerError: x"}], "tf-models")[0][-2:] == ["failed", "-"]
    # Without --peer, the table is today's.
    assert throughput.headers(None) == throughput.HEADERS and len(throughput.table_rows([row])[0]) == 12
    assert throughput.parse_args(["--peer", "tf-models"]).peer == "tf-models" and throughput.parse_args([]).peer is None


def test_a_failing_peer_is_reported_not_raised(tmp_path):
    import sys

    import pytest

    throughput = load("pretraining_throughput")
    import peers

    script = tmp_path / "fake_peer.py"
    script.write_text(FAKE_PEER)
    config = {"vocab_size": 10, "runs_before_crash": 1}
    process = throughput.start_peer("tf-models", config, _peer_batches(count=1), print,
                                    python=sys.executable, script=script)
    try:
        timings, errors = throughput.interleaved_timings(
            {"ours": lambda steps: 1.0, "tf_models": process.run}, steps=1, repeats=3)
    finally:
        process.close()
    # The first run answered; the second found the child gone, and the peer sat out the third.
    assert set(timings) == {"ours"} and timings["ours"].samples == (1.0, 1.0, 1.0)
    assert errors["tf_models"].startswith("PeerError: the peer exited") and "crashed on purpose" in errors["tf_models"]

    silent = tmp_path / "no_model.py"
    silent.write_text("import sys\nsys.exit('no such model: electra-tiny')\n")
    with pytest.raises(peers.PeerError, match="no such model: electra-tiny"):
        peers.PeerProcess(sys.executable, silent)
    unknown = tmp_path / "says_error.py"
    unknown.write_text('print(\'{"error": "ValueError: bad config"}\', flush=True)\n')
    with pytest.raises(peers.PeerError, match="the peer failed: ValueError: bad config"):
        peers.PeerProcess(sys.executable, unknown)
