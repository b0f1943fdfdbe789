"""Does pretraining pay? A learning curve: downstream accuracy against pretraining compute.

1. Pretrains with a recipe (`electra-keras pretrain --recipe NAME`), keeping
   a checkpoint at every budget.
2. Exports each budget's checkpoint (`export_checkpoint`) and fine-tunes it
   on movie-review sentiment and TREC-6 question types (official test set)
   with 3 seeds, using the recipe's fine-tuning settings. The same
   architecture from random weights gets its own tuning: the recipe's
   settings or a learning rate of 3e-4 / 1e-3 without layer decay, whichever
   scores best on dev (seed 0), then 3 seeds of that.
3. Scores TF-IDF + logistic regression on the same splits (C chosen on dev).
4. Writes a PNG (test accuracy against pretraining steps and FLOPs, random
   init and TF-IDF as horizontal lines), a markdown table and
   `benchmarks/results/pretraining_pays.json`.

Every stage is resumable: its results are files under --root (default
~/runs/pretraining-pays/RECIPE), and a re-run skips what is there. Re-run
the same command after an interruption.

    .venv/bin/python benchmarks/pretraining_pays.py                    # the whole curve (hours)
    .venv/bin/python benchmarks/pretraining_pays.py --quick            # a tiny run, about a minute
    .venv/bin/python benchmarks/pretraining_pays.py --recipe albert-cpu    # ALBERT's curve (MLM + SOP)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import chosen, format_machine, machine_description, markdown_table, text_table  # noqa: E402

TASKS = {"sentiment": "sentiment", "trec": "question-type"}
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="electra-cpu", help="a pretraining recipe (electra_keras.RECIPES)")
    parser.add_argument("--root", help="run folder (default ~/runs/pretraining-pays/RECIPE)")
    parser.add_argument("--budgets", type=int, default=5, help="checkpoints fine-tuned, evenly spread")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default="sentiment,trec", help="comma-separated: sentiment, trec")
    parser.add_argument("--json", help="default benchmarks/results/pretraining_pays.json, for other recipes "
                                       "pretraining_pays_RECIPE.json (--quick: none)")
    parser.add_argument("--plot", help="default: the --json path as .png (--quick: none)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model, corpus and fine-tuning: checks the script end to end")
    return parser.parse_args(argv)


# --- stages ---------------------------------------------------------------------


def budget_steps(total_steps: int, count: int) -> list[int]:
    """`count` checkpoint steps spread over the run, the last one at its end."""
    return sorted({max(1, round(total_steps * (i + 1) / count)) for i in range(count)})




def export_stage(run: Path, budgets: list[int]) -> dict[int, Path]:
    from electra_keras.training.pretrain import export_checkpoint

    folders = {}
    for step in budgets:
        folder = run / f"step-{step}"
        if not (folder / "run.json").exists():
            print(f"Exporting the checkpoint of step {step}", flush=True)
            export_checkpoint(run, step, folder)
        folders[step] = folder
    return folders


def finetune_stage(root: Path, init: str, label: str, task: str, seed: int, settings: dict,
                   random_init: bool = False) -> float:
    """Test accuracy of one fine-tuning run (read back when it already ran)."""
    return finetune_scores(root, init, label, task, seed, settings, random_init)["test"]["accuracy"]


def finetune_scores(root: Path, init: str, label: str, task: str, seed: int, settings: dict,
                    random_init: bool = False) -> dict:
    """The scores of one fine-tuning run (read back when it already ran).

    Args:
        init: an exported checkpoint folder; with `random_init`, only its
            architecture, vocabulary and casing are taken.
    """
    from electra_keras.training.finetune import FinetuningOptions, finetune

    out = root / "finetune" / label / task / f"seed-{seed}"
    scores_file = out / "scores.json"
    if scores_file.exists() and not _same_settings(out / "options.json", settings):
        print(f"{out}: fine-tuned with other settings than {settings}; fine-tuning again", flush=True)
        scores_file.unlink()
    if not scores_file.exists():
        print(f"Fine-tuning {label} on {task}, seed {seed}", flush=True)
        start = time.perf_counter()
        arguments = dict(settings, init=init, random_init=random_init)
        scores = finetune(FinetuningOptions(out=str(out), task=TASKS[task], seed=seed, **arguments), verbose=0)
        scores["seconds"] = time.perf_counter() - start
        scores_file.write_text(json.dumps(scores, indent=2, default=float) + "\n")
        (out / "model.keras").unlink(missing_ok=True)  # the scores are what this curve needs
    return json.loads(scores_file.read_text())


def _same_settings(options_file: Path, settings: dict) -> bool:
    """Whether a finished fine-tune used these settings (a recipe may change between runs)."""
    if not options_file.exists():
        return False
    used = json.loads(options_file.read_text())
    return all(used.get(key) == value for key, value in settings.items())


def random_init_candidates(settings: dict, grid: tuple) -> dict[str, dict]:
    """The recipe's fine-tuning settings plus, for random weights, `grid`'s
    learning rates without layer decay: layer decay assumes lower layers that
    already know something, which random ones do not."""
    candidates = {"random": dict(settings)}
    for rate in grid:
        candidate = dict(settings, learning_rate=rate, layer_decay=1.0)
        if candidate != settings:
            candidates[f"random-lr{rate:g}-ld1"] = candidate
    return candidates


def random_init_stage(root: Path, architecture: str, task: str, seeds: int, settings: dict, grid: tuple) -> dict:
    """Random init, fine-tuned with the candidate settings that does best on
    dev (seed 0), then with every seed: the baseline gets its own tuning, so
    a win of the pretrained encoder is not a handicapped baseline."""
    sweep = []
    for label, candidate in random_init_candidates(settings, grid).items():
        scores = finetune_scores(root, architecture, label, task, 0, candidate, random_init=True)
        sweep.append({"label": label, "learning_rate": candidate["learning_rate"],
                      "layer_decay": candidate["layer_decay"], "dev": scores["dev"]["accuracy"],
                      "test": scores["test"]["accuracy"]})
    best = max(sweep, key=lambda row: row["dev"])
    candidate = random_init_candidates(settings, grid)[best["label"]]
    test = [finetune_stage(root, architecture, best["label"], task, seed, candidate, random_init=True)
            for seed in range(seeds)]
    return {"test": test, "chosen": best["label"], "sweep": sweep}


def tfidf_accuracy(task: str, grid=(1.0, 10.0, 100.0)) -> dict:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression, C chosen on dev."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from electra_keras.training.finetune import FinetuningOptions, load_task_data

    splits = load_task_data(FinetuningOptions(out="", task=TASKS[task], preset="tiny"))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    train = vectorizer.fit_transform(splits.train.texts)
    best = None
    for c in grid:
        model = LogisticRegression(C=c, max_iter=5000).fit(train, splits.train.labels)
        dev = float(np.mean(model.predict(vectorizer.transform(splits.dev.texts)) == np.array(splits.dev.labels)))
        if best is None or dev > best[0]:
            best = (dev, c, model)
    dev, c, model = best
    test = float(np.mean(model.predict(vectorizer.transform(splits.test.texts)) == np.array(splits.test.labels)))
    return {"dev": dev, "test": test, "C": c}


# --- FLOPs ------------------------------------------------------------------------


def flops_per_step(options) -> float:
    """Analytic training FLOPs of one pretraining step (`electra_keras.pretraining.flops`)."""
    from electra_keras.config import ModelConfig
    from electra_keras.data.tokenizer import make_tokenizer
    from electra_keras.pretraining.masking import MaskingConfig
    from electra_keras.pretraining.flops import ELECTRA_OBJECTIVES, training_flops_per_sequence

    vocabulary = make_tokenizer(options.vocabulary_path())
    overrides = dict(options.config)
    if options.objective not in ELECTRA_OBJECTIVES:
        overrides.setdefault("generator_size", None)  # one encoder, no generator
    config = ModelConfig.from_preset(options.preset, vocab_size=vocabulary.vocabulary_size, **overrides)
    predictions = MaskingConfig.electra(mask_token_id=0, special_token_ids=(0,), vocab_size=config.vocab_size,
                                        rate=options.masking_rate).num_predictions(options.sequence_length)
    per_sequence = training_flops_per_sequence(config, options.objective, options.sequence_length, predictions)
    return float(per_sequence * options.batch_size)


# --- report -----------------------------------------------------------------------


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(report["tasks"])
    figure, axes = plt.subplots(2, len(tasks), figsize=(5.5 * len(tasks), 7.5), squeeze=False)
    for column, task in enumerate(tasks):
        entry = report["tasks"][task]
        steps = [b["step"] for b in entry["budgets"]]
        medians = [statistics.median(b["test"]) for b in entry["budgets"]]
        for row, (scale, label) in enumerate(((1, "pretraining steps"), (report["flops_per_step"], "pretraining FLOPs"))):
            axis = axes[row][column]
            x = [s * scale for s in steps]
            for budget, position in zip(entry["budgets"], x):
                axis.scatter([position] * len(budget["test"]), budget["test"], color="tab:blue", alpha=0.35, s=12)
            axis.plot(x, medians, "o-", color="tab:blue", label=f"{report['recipe']} (median of {report['seeds']})")
            axis.axhline(statistics.median(entry["random_init"]), color="tab:red", linestyle="--",
                         label="same architecture, random init")
            axis.axhline(entry["tfidf"], color="tab:gray", linestyle=":", label="TF-IDF + logistic regression")
            axis.set_xlabel(label)
            axis.set_ylabel("test accuracy")
            axis.set_title(f"{task}: {entry['title']}")
            if row == 1:
                axis.set_xscale("linear")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"Does pretraining pay? {report['recipe']}, {report['machine']['cpu']}, "
                    f"{report['pretraining_minutes']:.0f} min of pretraining")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def table_rows(report: dict) -> list[list]:
    rows = []
    for task, entry in report["tasks"].items():
        def fmt(values):
            return f"{statistics.median(values):.4f} ({', '.join(f'{v:.3f}' for v in values)})"

        for budget in entry["budgets"]:
            rows.append([task, f"{budget['step']:,}", f"{budget['step'] * report['flops_per_step'] / 1e15:.3f}",
                         f"{budget['minutes']:.0f}", fmt(budget["test"])])
        chosen = entry.get("random_init_tuning", {}).get("chosen", "random")
        rows.append([task, f"random init ({_settings_label(chosen)})", "0", "0", fmt(entry["random_init"])])
        rows.append([task, "TF-IDF + LR", "-", "-", f"{entry['tfidf']:.4f}"])
    return rows


def _settings_label(label: str) -> str:
    """'random-lr0.001-ld1' -> 'lr 0.001, layer decay 1'; 'random' -> the recipe's settings."""
    if label == "random":
        return "recipe's settings"
    rate, decay = label.removeprefix("random-lr").split("-ld")
    return f"lr {rate}, layer decay {decay}"


def main(argv=None) -> int:
    from electra_keras.training.pretrain import pretrain
    from electra_keras.training.recipes import recipe

    args = parse_args(argv)
    tasks = chosen(args.tasks, TASKS, "--tasks")
    scratch = tempfile.TemporaryDirectory() if args.quick else None
    root = Path(scratch.name if args.quick else args.root or Path("~/runs/pretraining-pays").expanduser() / args.recipe)
    from electra_keras.training.recipes import RECIPES

    if args.recipe not in RECIPES:
        raise SystemExit(f"--recipe {args.recipe!r}: expected one of {sorted(RECIPES)}")
    # --quick runs the recipe's toy twin (its "quick" entry): the same code path, tiny.
    name = RECIPES[args.recipe].get("quick", args.recipe) if args.quick else args.recipe
    pretraining, finetuning = recipe(name, out=str(root / "pretraining"))
    if args.quick:
        args.budgets, args.seeds = 1, 1
        pretraining.corpus = [str(_quick_corpus(root))]
        pretraining.eval_corpus = pretraining.corpus
    budgets = budget_steps(pretraining.total_steps, args.budgets)
    if any(step % pretraining.checkpoint_every for step in budgets):
        raise SystemExit(f"budgets {budgets} are not multiples of the recipe's checkpoint interval "
                         f"({pretraining.checkpoint_every}); choose another --budgets")
    # Keep every checkpoint until the budgets are exported.
    pretraining.keep_checkpoints = pretraining.total_steps // pretraining.checkpoint_every + 1

    start = time.perf_counter()
    pretrain(pretraining)  # resumes, or returns at once when the run is complete
    run = Path(pretraining.out)
    folders = export_stage(run, budgets)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    speeds = [m["sequences_per_second"] for m in metrics if "sequences_per_second" in m]
    seconds_per_step = pretraining.batch_size / statistics.median(speeds)
    report = {
        "recipe": name,
        "seeds": args.seeds,
        "flops_per_step": flops_per_step(pretraining),
        "pretraining_minutes": pretraining.total_steps * seconds_per_step / 60,
        "tasks": {},
        "machine": machine_description(),
    }
    for task in tasks:
        settings = dict(finetuning[TASKS[task]])
        if args.quick:
            settings.update(max_train_examples=64, max_eval_examples=64, epochs=1)
        entry = {"title": TASKS[task], "budgets": []}
        for step in budgets:
            test = [finetune_stage(root, str(folders[step]), f"step-{step}", task, seed, settings)
                    for seed in range(args.seeds)]
            entry["budgets"].append({"step": step, "minutes": step * seconds_per_step / 60, "test": test})
        random_init = random_init_stage(root, str(folders[budgets[-1]]), task, args.seeds, settings,
                                        grid=(1e-3,) if args.quick else (3e-4, 1e-3))
        entry["random_init"] = random_init.pop("test")
        entry["random_init_tuning"] = random_init
        entry["tfidf"] = tfidf_accuracy(task, grid=(10.0,) if args.quick else (1.0, 10.0, 100.0))["test"]
        report["tasks"][task] = entry

    headers = ["task", "pretraining steps", "PFLOPs", "minutes", f"test accuracy, median (seeds {args.seeds})"]
    rows = table_rows(report)
    print(format_machine(report["machine"]))
    print(markdown_table(headers, rows) if args.markdown else text_table(headers, rows))
    if not args.quick:
        stem = "pretraining_pays" if name == "electra-cpu" else f"pretraining_pays_{name}"
        args.json = args.json or str(RESULTS / f"{stem}.json")
        args.plot = args.plot or str(Path(args.json).with_suffix(".png"))
    if args.json:
        summary = {
            task: {
                "pretrained": entry["budgets"][-1]["test"],
                "random_init": entry["random_init"],
                "tfidf": entry["tfidf"],
                "pretraining_minutes": report["pretraining_minutes"],
            }
            for task, entry in report["tasks"].items()
        }
        json_path = Path(args.json)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(summary, indent=2) + "\n")
        # Every budget, the FLOPs and the machine, beside the summary.
        curve_path = json_path.with_name(json_path.stem + "_curve.json")
        curve_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {json_path} and {curve_path}")
    if args.plot:
        plot(report, Path(args.plot))
        print(f"wrote {args.plot}")
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min")
    if scratch is not None:
        scratch.cleanup()
    return 0


def _quick_corpus(root: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    words = "the film was good bad a story of long night and day what who where is".split()
    corpus = root / "corpus.txt"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text("\n\n".join("\n".join(" ".join(rng.choice(words, 10)) + "." for _ in range(4))
                                  for _ in range(80)) + "\n")
    return corpus


if __name__ == "__main__":
    sys.exit(main())
