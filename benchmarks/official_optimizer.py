"""Bias correction or not: Keras' AdamW against the official AdamWeightDecayOptimizer.

The official ELECTRA optimizer (`model/optimization.py`) has no bias
correction; Keras' AdamW (our default, `--optimizer adamw`) has it. Early
on the official update is about 3.2x larger (electra_keras.training.
optimizers). This script pretrains the same recipe twice from the same seed,
data and vocabulary, once with each (`--optimizer adamw` /
`official_adamw`), for the first --steps steps (warmup 10%), and reports the
training curves and the held-out metrics at the end.

    .venv/bin/python benchmarks/official_optimizer.py                 # 1,000 steps of electra-cpu, ~15 min
    .venv/bin/python benchmarks/official_optimizer.py --quick         # a tiny run, seconds

Resumable: the runs live under --root (default ~/runs/official-optimizer);
re-run the same command after an interruption. Writes
benchmarks/results/official_optimizer.json and .png.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import format_machine, machine_description, print_tables  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
OPTIMIZERS = ("adamw", "official_adamw")
# Held-out metrics reported at the end, when the objective logs them.
REPORTED = ("val_loss", "val_mlm_accuracy", "val_rtd_auc", "val_sop_accuracy")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="electra-cpu", help="a pretraining recipe (electra-keras info --recipes)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--root", help="run folder (default ~/runs/official-optimizer/RECIPE)")
    parser.add_argument("--json", help="default benchmarks/results/official_optimizer.json (--quick: none)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--reuse", metavar="RUN",
                        help="the vocab.txt and prepared data of an earlier run of the recipe (e.g. "
                             "~/runs/pretraining-pays/electra-cpu/pretraining), instead of learning and preparing them")
    parser.add_argument("--quick", action="store_true", help="the recipe's toy twin, 4 steps, a tiny corpus")
    return parser.parse_args(argv)


def run_options(recipe_name: str, out: Path, steps: int, optimizer: str, shared: dict, corpus: str | None):
    from electra_keras.training.recipes import recipe

    options, _ = recipe(recipe_name, out=str(out))
    changes = dict(total_steps=steps, warmup_steps=max(1, steps // 10), checkpoint_every=steps,
                   log_every=max(1, steps // 20), optimizer=optimizer, **shared)
    if corpus is not None:
        changes.update(corpus=[corpus], eval_corpus=[corpus])
    if "vocabulary" in shared:
        changes["vocabulary_size"] = None
    return dataclasses.replace(options, **changes)


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def main(argv=None) -> int:
    from electra_keras.training.pretrain import pretrain
    from electra_keras.training.recipes import RECIPES

    args = parse_args(argv)
    recipe_name = RECIPES[args.recipe].get("quick", args.recipe) if args.quick else args.recipe
    steps = 4 if args.quick else args.steps
    scratch = tempfile.TemporaryDirectory() if args.quick else None
    root = Path(scratch.name if scratch else args.root or Path("~/runs/official-optimizer").expanduser() / args.recipe)
    corpus = None
    if args.quick:
        from pretraining_pays import _quick_corpus

        corpus = str(_quick_corpus(root))
    machine = machine_description()
    print(format_machine(machine))

    shared: dict = {}  # the first run's vocabulary and prepared data, reused by the second
    if args.reuse:
        run = Path(args.reuse).expanduser()
        shared = {"vocabulary": str(run / "vocab.txt"), "data": str(run / "data")}
        if (run / "eval-data").exists():
            shared["eval_data"] = str(run / "eval-data")
        missing = [path for path in shared.values() if not Path(path).exists()]
        if missing:
            raise SystemExit(f"--reuse {args.reuse}: {', '.join(missing)} not found")
    curves = {}
    for optimizer in OPTIMIZERS:
        out = root / optimizer
        print(f"== {optimizer}: {steps:,} steps of {recipe_name} in {out}", flush=True)
        options = run_options(recipe_name, out, steps, optimizer, shared, corpus)
        pretrain(options)
        if not shared:
            shared = {"vocabulary": options.vocabulary_path(), "data": str(out / "data")}
            if (out / "eval-data").exists():
                shared["eval_data"] = str(out / "eval-data")
        curves[optimizer] = read_metrics(out)

    final = {name: {key: value for record in records for key, value in record.items() if key in REPORTED}
             for name, records in curves.items()}
    train_loss = {name: [record["loss"] for record in records if "loss" in record][-1]
                  for name, records in curves.items()}
    rows = [[name, f"{train_loss[name]:.4f}", *(f"{final[name].get(key, float('nan')):.4f}" for key in REPORTED)]
            for name in OPTIMIZERS]
    print_tables(f"{recipe_name}, first {steps:,} steps (warmup {max(1, steps // 10)}), same seed and data:",
                 ["optimizer", "train loss (last log)", *REPORTED], rows, args.markdown)
    report = {"recipe": recipe_name, "steps": steps, "machine": machine, "final": final,
              "train_loss": train_loss, "curves": curves}
    path = Path(args.json) if args.json else (None if args.quick else RESULTS / "official_optimizer.json")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        plot(report, path.with_suffix(".png"))
        print(f"wrote {path}")
    if scratch is not None:
        scratch.cleanup()
    return 0


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [key for key in ("loss", "mlm_accuracy", "rtd_auc", "sop_accuracy")
            if any(key in record for records in report["curves"].values() for record in records)]
    figure, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.6), squeeze=False)
    for axis, key in zip(axes[0], keys):
        for name, records in report["curves"].items():
            points = [(record["step"], record[key]) for record in records if key in record]
            axis.plot(*zip(*points), label=name)
        axis.set_xlabel("step")
        axis.set_title(f"train {key}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"{report['recipe']}: AdamW with and without bias correction ({report['machine']['cpu']})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
