"""Helpers shared by the benchmark scripts: what machine this is, how long
something takes (medians of repeated runs), the matmul peak that model FLOPs
utilization is measured against, and tables for the terminal and RESULTS.md.

TensorFlow and torch are imported inside the functions that need them, so a
script pays only for the frameworks it uses.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

# Every benchmark times what electra_keras runs: oneDNN kernels (see its
# __init__), set before the first import of TensorFlow.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


# --- the machine ---------------------------------------------------------------


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The vector and matrix extensions that decide which kernels run: TensorFlow
# turns oneDNN on by default only with AVX512_VNNI/BF16 or AMX, and bfloat16
# is native only with AVX512_BF16 or AMX (emulated in float32 otherwise).
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_features() -> list[str]:
    """The CPU_FEATURES flags /proc/cpuinfo lists (empty where it does not exist)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in CPU_FEATURES if flag in flags]
    except OSError:
        pass
    return []


def native_bfloat16(description: dict) -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512_BF16 or AMX)."""
    return bool({"avx512_bf16", "amx_bf16"} & set(description.get("cpu_features", [])))


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def machine_description() -> dict:
    """CPU, cores, memory, accelerators and framework versions, as a dict.

    The load average is recorded too: a benchmark taken on a busy machine
    says so in its own output.
    """
    description = {
        "cpu": _cpu_model(),
        "cpu_features": cpu_features(),
        "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "memory_gib": round(_memory_gib() or 0.0, 1),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("tensorflow", "keras", "keras-hub", "torch", "transformers", "numpy")
        },
        "tensorflow_gpus": [],
        "torch_gpus": [],
    }
    try:
        import tensorflow as tf

        description["tensorflow_gpus"] = [
            tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in tf.config.list_physical_devices("GPU")
        ]
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            description["torch_gpus"] = [
                torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())
            ]
    except ImportError:
        pass
    return description


def format_machine(description: dict) -> str:
    """The description as a few lines of text (also valid markdown bullets)."""
    versions = ", ".join(f"{name} {version}" for name, version in description["versions"].items() if version)
    gpus = description["tensorflow_gpus"] or description["torch_gpus"]
    lines = [
        f"- CPU: {description['cpu']}, {description['logical_cpus']} logical CPUs "
        f"({description['usable_cpus']} usable by this process), {description['memory_gib']} GiB RAM",
        f"- Accelerator: {', '.join(gpus) if gpus else 'none (CPU only)'}"
        + (
            f" (TensorFlow sees {len(description['tensorflow_gpus'])}, torch sees {len(description['torch_gpus'])})"
            if gpus
            else ""
        ),
        f"- CPU features: {', '.join(description.get('cpu_features') or ['none of ' + '/'.join(CPU_FEATURES)])}"
        + ("" if description.get("onednn_env") is None else f"; TF_ENABLE_ONEDNN_OPTS={description['onednn_env']}"),
        f"- Load average (1 min) at start: {description['load_average_1m']}",
        f"- {description['os']}, Python {description['python']}",
        f"- {versions}",
    ]
    return "\n".join(lines)


# --- timing ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """Summary of repeated measurements of one quantity (seconds)."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the repeats were, as a fraction."""
        return (max(self.samples) - min(self.samples)) / self.median

    def as_dict(self) -> dict:
        return {"median_s": self.median, "spread": self.spread, "samples_s": list(self.samples)}


def seconds(run: Callable[[], object]) -> float:
    """Wall-clock seconds of one call of `run`, which must return only once
    its work is finished (synchronize accelerators inside it)."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def median_timing(run: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """`run` called `warmup` times untimed, then `repeats` times timed."""
    for _ in range(warmup):
        run()
    return Timing(tuple(seconds(run) for _ in range(repeats)))


def interleaved_timings(runs: dict[str, Callable[[], object]], repeats: int, rounds: int = 5,
                        warmup: int = 1, progress: str | None = None) -> dict[str, Timing]:
    """Each of `runs` timed `repeats` times in all, over `rounds` rounds that
    take every run in turn (after `warmup` untimed calls of each).

    The speed of a shared VM drifts by tens of percent within minutes. Timed
    one after another, two variants' ratio carries that drift; in rounds,
    every variant sees each phase of it alike. `progress` prints a line per
    round under that label.
    """
    for run in runs.values():
        for _ in range(warmup):
            run()
    rounds = max(1, min(rounds, repeats))
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        count = repeats // rounds + (index < repeats % rounds)
        for name, run in runs.items():
            samples[name].extend(seconds(run) for _ in range(count))
        if progress:
            print(f"{progress}: round {index + 1}/{rounds}", flush=True)
    return {name: Timing(tuple(values)) for name, values in samples.items()}


# --- the matmul peak ---------------------------------------------------------------


def tensorflow_matmul_peak(dtype: str = "float32", size: int = 2048, repeats: int = 5, per_run: int = 4) -> float:
    """Measured FLOP/s of a square TensorFlow matmul on the default device.

    The denominator of model FLOPs utilization: what this machine, this
    TensorFlow build and this dtype achieve on the friendliest possible
    kernel, measured in the same process as the model it is compared with
    (a datasheet peak says nothing about a shared or throttled machine).

    Args:
        dtype: "float32" or "bfloat16".
        size: n of the n x n matmuls (2 n^3 FLOPs each); large enough to
            saturate the device (2048 on a CPU, 8192 on a GPU).
        repeats: timed runs; the median is returned.
        per_run: matmuls per timed run.
    """
    import tensorflow as tf

    # Distinct operands for every product, run eagerly: inside a tf.function
    # Grappler would merge identical matmuls into one.
    left = [tf.cast(tf.random.normal((size, size)), dtype) for _ in range(per_run)]
    right = tf.cast(tf.random.normal((size, size)), dtype)

    def run_matmuls():
        products = [tf.linalg.matmul(a, right) for a in left]
        # Reading a value waits for the device; the products ran in order.
        return products[-1][0, 0].numpy()

    timing = median_timing(run_matmuls, repeats=repeats, warmup=1)
    return 2 * size**3 * per_run / timing.median


# --- tables ----------------------------------------------------------------------


def chosen(value: str, known, flag: str) -> list[str]:
    """The comma-separated names of a command-line flag, each checked against `known`."""
    names = value.split(",")
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"{flag}: unknown {unknown}; expected some of {list(known)}")
    return names


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(header)), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    lines = ["  ".join(str(header).rjust(width) for header, width in zip(headers, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(str(header) for header in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def print_tables(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], markdown: bool) -> None:
    """The results as a text table under `title`, and as Markdown for RESULTS.md when asked."""
    print(f"\n{title}")
    print(text_table(headers, rows))
    if markdown:
        print()
        print(markdown_table(headers, rows))


# --- inputs ----------------------------------------------------------------------


def random_pairs(tokenizer, batch_size: int, length: int, rng) -> dict:
    """One batch of full-length `[CLS] A [SEP] B [SEP]` rows of random word
    pieces (pretraining packs examples to the full length), split at a random
    point in the middle half; int32 NumPy arrays.

    Args:
        tokenizer: gives the vocabulary size and the [CLS]/[SEP] ids.
        rng: a `numpy.random.Generator`, drawn from in order.
    """
    import numpy as np

    # Ids below 1000 are [PAD], [unused*] and the special tokens of the BERT
    # vocabulary; above are ordinary word pieces.
    first_ordinary = min(1000, tokenizer.vocabulary_size // 2)
    token_ids = rng.integers(first_ordinary, tokenizer.vocabulary_size, size=(batch_size, length)).astype("int32")
    segment_ids = np.zeros((batch_size, length), "int32")
    for row in range(batch_size):
        split = int(rng.integers(length // 4, 3 * length // 4))
        token_ids[row, 0] = tokenizer.cls_token_id
        token_ids[row, split] = tokenizer.sep_token_id
        token_ids[row, -1] = tokenizer.sep_token_id
        segment_ids[row, split + 1 :] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": np.ones_like(token_ids)}


# --- the performance summary ----------------------------------------------------------

PERFORMANCE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "performance.json")
PERFORMANCE_KEYS = (
    "train_fp32_vs_pytorch", "train_bf16_vs_pytorch", "mfu_fp32",
    "savedmodel_b1_vs_pytorch", "savedmodel_b32_vs_pytorch", "tflite_int8_b1_vs_pytorch",
)


def record_performance(values: dict, source: str, machine: dict, path: str = PERFORMANCE_FILE,
                       not_measured: dict | None = None) -> dict:
    """Merges `values` (some of PERFORMANCE_KEYS) into benchmarks/results/performance.json.

    Every ratio is ours divided by PyTorch's from one run: throughputs (the
    training and batch-32 figures) higher is better, latencies (batch 1)
    lower is better. Each value keeps the script, date and CPU it came from
    under "sources"; full runs write it, --quick runs never do.
    `not_measured` ({key: why}) writes null for a figure the run could not
    measure on its machine, with the reason in its source.
    """
    import json

    not_measured = not_measured or {}
    unknown = sorted((set(values) | set(not_measured)) - set(PERFORMANCE_KEYS))
    if unknown:
        raise ValueError(f"record_performance: unknown keys {unknown}; expected some of {PERFORMANCE_KEYS}")
    summary = {}
    if os.path.exists(path):
        with open(path) as file:
            summary = json.load(file)
    sources = summary.pop("sources", {})
    for key, value in [*values.items(), *((key, None) for key in not_measured)]:
        summary[key] = None if value is None else round(float(value), 4)
        sources[key] = {"script": source, "date": time.strftime("%Y-%m-%d"), "cpu": machine.get("cpu"),
                        "gpus": machine.get("tensorflow_gpus") or [], "load_average_1m": machine.get("load_average_1m")}
        if key in not_measured:
            sources[key]["not_measured"] = not_measured[key]
    ordered = {key: summary[key] for key in PERFORMANCE_KEYS if key in summary}
    ordered["sources"] = {key: sources[key] for key in PERFORMANCE_KEYS if key in sources}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        json.dump(ordered, file, indent=2)
        file.write("\n")
    return ordered
