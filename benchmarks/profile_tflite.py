"""Where a TFLite model's batch-1 time goes: LiteRT's kernels by share of CPU
samples, and the ops that LiteRT's XNNPACK delegate leaves to TFLite's own kernels.

Run (from the repository root):

    .venv/bin/python benchmarks/profile_tflite.py                      # electra-small, dynamic-range int8
    .venv/bin/python benchmarks/profile_tflite.py --quantize none --seconds 20
    .venv/bin/python benchmarks/profile_tflite.py --quick              # a smoke test (tiny, length 16)

ai-edge-litert's Python interpreter times no single op, and LiteRT's
`benchmark_model` tool is not on PyPI. So the script exports a random-weight
classifier with this package's `export_tflite`, runs it at batch 1 in a loop
in a child process, and samples that process with Linux `perf` (Debian:
`apt-get install linux-perf`): every sample names the function the CPU was in,
and LiteRT's kernels keep their names (XNNPACK's `xnn_qd8_f32_qc8w_gemm_*` is
the int8 matmul of a dynamic-range FULLY_CONNECTED, `xnn_f32_gemm_*` a float
one, `tflite::reference_ops::*` an op XNNPACK did not take). Shares are of
all the child's samples, its Python and thread hand-overs included; the
latency is the loop's median while sampled at 999 Hz (a few percent slower
than unsampled, see serving_latency.py for the timed figures).

Without `perf` (or where the kernel refuses sampling) the script still
reports the latency and the op census, and says why the kernel table is
missing.

The op census counts the graph's ops by type and lists the ones outside
XNNPACK's partitions: the interpreter's execution plan after delegation
holds one DELEGATE node per partition and the ops it left, so each op type
there is work between two hand-overs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import format_machine, machine_description, print_tables, usable_cpus  # noqa: E402

# Checked in this order against each sampled function's name; the first hit names its kind.
KINDS = (
    ("int8 matmul (dynamic-range FULLY_CONNECTED)", re.compile(r"^xnn_q[dsu]8_.*gemm|^xnn_.*qp8gemm")),
    ("float32 matmul (BATCH_MATMUL, float FULLY_CONNECTED)", re.compile(r"^xnn_f32_.*gemm")),
    ("activation quantization and weight packing", re.compile(r"^xnn_.*(cvt|packw|pack_lh)|pack_lh|qdu8")),
    ("other XNNPACK kernels (GELU, softmax, add, ...)", re.compile(r"^xnn_")),
    ("TFLite kernels outside XNNPACK", re.compile(r"^tflite::(reference_ops|optimized_ops|ops)")),
    ("threads: wake-ups, waits, hand-overs", re.compile(
        r"pthreadpool|pthread_mutex|thread_main|thread_parallelize|blas_thread_server|futex|spin_unlock|"
        r"finish_task_switch|schedule|sched_")),
    ("memory copies", re.compile(r"memmove|memcpy|memset")),
)
OTHER = "other (interpreter, Python, kernel)"
SAMPLE_HZ = 999


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="electra-small")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--quantize", default="dynamic", help="export_tflite's quantize: none, dynamic, float16")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the sampled loop runs")
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads (default: usable CPUs)")
    parser.add_argument("--top", type=int, default=15, help="functions listed in the kernel table")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables for RESULTS.md")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny preset, length 16, 1 s")
    parser.add_argument("--loop", type=Path, help=argparse.SUPPRESS)  # the sampled child: run this .tflite
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.sequence_length, args.seconds = "tiny", 16, 1.0
    if args.seconds <= 0:
        parser.error(f"--seconds: expected a positive number, got {args.seconds}")
    return args


def batch_one_inputs(runner, length: int) -> dict:
    """One full-length sequence: every token real, so every key is attended."""
    import numpy as np

    values = {"input_ids": 1000, "input_mask": 1, "segment_ids": 0}
    return {name: np.full([1, length], values[name], detail["dtype"])
            for name, detail in runner.get_input_details().items()}


def run_loop(path: Path, seconds: float, threads: int, length: int) -> dict:
    """Runs the model at batch 1 for `seconds`; the median and count of the calls."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner()
    inputs = batch_one_inputs(runner, length)
    for _ in range(3):
        runner(**inputs)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        start = time.perf_counter()
        runner(**inputs)
        times.append(time.perf_counter() - start)
    return {"median_ms": 1e3 * float(np.median(times)), "calls": len(times)}


def op_census(path: Path, threads: int) -> dict:
    """Op types of the graph, the XNNPACK partitions, and the op types left outside them.

    LiteRT appends one DELEGATE node per partition to the graph's nodes and
    keeps the nodes it replaced. A partition's nodes are found back from its
    DELEGATE node: every node that makes one of its outputs, and, going
    upstream, every node that makes an input of those, until the DELEGATE
    node's own inputs. The nodes no partition holds run in TFLite's kernels.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    nodes = interpreter._get_ops_details()
    producer = {tensor: node["index"] for node in nodes if node["op_name"] != "DELEGATE"
                for tensor in node["outputs"]}
    delegated = set()
    partitions = [node for node in nodes if node["op_name"] == "DELEGATE"]
    for partition in partitions:
        boundary = set(partition["inputs"])
        pending = [tensor for tensor in partition["outputs"]]
        while pending:
            tensor = pending.pop()
            index = producer.get(tensor)
            if index is None or index in delegated or tensor in boundary:
                continue
            delegated.add(index)
            pending.extend(t for t in nodes[index]["inputs"] if t >= 0)
    graph = [node for node in nodes if node["op_name"] != "DELEGATE"]
    outside = collections.Counter(node["op_name"] for node in graph if node["index"] not in delegated)
    return {"ops": dict(collections.Counter(node["op_name"] for node in graph).most_common()),
            "partitions": len(partitions), "outside_xnnpack": dict(outside.most_common())}


def perf_profile(path: Path, seconds: float, threads: int, length: int, work: Path) -> tuple[dict | None, str]:
    """(samples by function and the loop's timing, "") or (None, why there is no profile)."""
    perf = shutil.which("perf")
    if perf is None:
        return None, "`perf` is not installed (Debian: apt-get install linux-perf)"
    data = work / "perf.data"
    child = [sys.executable, str(Path(__file__).resolve()), "--loop", str(path), "--seconds", str(seconds),
             "--threads", str(threads), "--sequence-length", str(length)]
    record = subprocess.run([perf, "record", "-F", str(SAMPLE_HZ), "-e", "cpu-clock", "-o", str(data), "--", *child],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if record.returncode != 0 or not data.is_file():
        return None, f"`perf record` failed (exit {record.returncode}): {record.stderr.strip()[-300:]}"
    timing = json.loads(record.stdout.strip().splitlines()[-1])
    report = subprocess.run([perf, "report", "-i", str(data), "--stdio", "--no-children", "--sort", "sym",
                             "-g", "none", "--percent-limit", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    functions = []
    for line in report.stdout.splitlines():
        match = re.match(r"^\s+([\d.]+)%\s+\[(.)\]\s+(\S.*?)\s*$", line)
        if match:
            functions.append({"function": match.group(3), "kernel": match.group(2) == "k",
                              "share": float(match.group(1)) / 100})
    if not functions:
        return None, "`perf report` listed no samples"
    return {"timing": timing, "functions": functions}, ""


def kind_of(function: str, kernel: bool) -> str:
    for kind, pattern in KINDS:
        if pattern.search(function):
            return kind
    return OTHER


def main(argv=None) -> int:
    args = parse_args(argv)
    threads = args.threads or usable_cpus()
    if args.loop is not None:  # the child that perf samples
        print(json.dumps(run_loop(args.loop, args.seconds, threads, args.sequence_length)), flush=True)
        return 0

    from electra_keras.data import packages
    from electra_keras.export.tflite import export_tflite
    from electra_keras.tasks.classifier import TextClassifier

    machine = machine_description()
    print(format_machine(machine))
    model = TextClassifier.from_preset(args.preset, packages.bert_uncased_vocab(), label_names=["neg", "pos"],
                                       sequence_length=args.sequence_length)
    with tempfile.TemporaryDirectory(prefix="profile-tflite-") as work:
        work = Path(work)
        path = export_tflite(model, work / "model" / "model.tflite", quantize=args.quantize, isolate=not args.quick)
        census = op_census(path, threads)
        profile, missing = perf_profile(path, args.seconds, threads, args.sequence_length, work)
        timing = profile["timing"] if profile else run_loop(path, args.seconds, threads, args.sequence_length)

    title = (f"{args.preset} classifier, TFLite {args.quantize}, length {args.sequence_length}, batch 1, "
             f"{threads} threads: {timing['median_ms']:.2f} ms median over {timing['calls']} calls"
             + (f" (sampled by perf at {SAMPLE_HZ} Hz)" if profile else ""))
    print(f"\n{title}")
    print(f"XNNPACK partitions: {census['partitions']}; ops left outside them: "
          f"{census['outside_xnnpack'] or 'none'}")
    print_tables("Ops in the graph:", ["op", "count"], list(census["ops"].items()), args.markdown)
    report = {"machine": machine, "preset": args.preset, "quantize": args.quantize,
              "sequence_length": args.sequence_length, "threads": threads, "timing": timing,
              "census": census, "kinds": None, "functions": None, "missing_profile": missing or None}
    if profile:
        kinds = collections.Counter()
        for row in profile["functions"]:
            row["kind"] = kind_of(row["function"], row["kernel"])
            kinds[row["kind"]] += row["share"]
        report["kinds"] = [{"kind": kind, "share": share} for kind, share in kinds.most_common()]
        report["functions"] = profile["functions"]
        print_tables("CPU samples by kind of work:", ["kind", "share %"],
                     [[row["kind"], f"{100 * row['share']:.1f}"] for row in report["kinds"]], args.markdown)
        print_tables(f"The {args.top} functions with most samples:", ["function", "kind", "share %"],
                     [[row["function"][:90], row["kind"], f"{100 * row['share']:.1f}"]
                      for row in profile["functions"][: args.top]], args.markdown)
    else:
        print(f"\nNo kernel profile: {missing}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
