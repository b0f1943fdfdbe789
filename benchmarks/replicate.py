"""The ELECTRA and ALBERT papers' claims, replicated at our scale, in one command.

Studies (each arm is an `electra-keras pretrain` run; `--studies` picks some):

- comparison: ELECTRA (the electra-cpu recipe) against BERT-style masked LM
  (`--objective mlm`, the same encoder) at equal training FLOPs (the
  generator counted, `electra_keras.pretraining.flops`), each checkpointed at
  4 budgets: the paper's Figure 1 (left);
- ablations: `electra-15`, `replace-mlm`, `all-tokens-mlm` against `electra`
  at one budget (the paper's Table 5);
- generator: generator width 1/4, 1/2 and 1 of the discriminator's, word
  embeddings tied (Figure 3, left);
- tying: no tying, token embeddings tied, DeBERTaV3's gradient-disentangled
  sharing (all three with a 1/4-width generator) and all weights tied with
  an equal-size generator (section 3.1; the electra-cpu recipe's own
  setting, so that arm is `electra`);
- albert-sharing: ALBERT sharing all layers, none, attention only, FFN only
  (ALBERT Table 4), at equal FLOPs (sharing changes no FLOP);
- albert-sentence: sentence order (`albert`) against next sentence
  (`albert-nsp`) and none (`albert-none`) (ALBERT Table 5);
- continued: MiniLM-L6 continued with ELECTRA on movie dialogs (never text
  of a labelled dataset), against MiniLM fine-tuned directly.

Every checkpoint is fine-tuned on sentiment and TREC-6 (3 seeds). Budgets
are FLOPs, given in steps of the electra-cpu recipe (`--budget`: small is
for 2 CPU cores, medium and large are for bigger machines); every arm gets
the FLOPs, not the steps, of its budget. On a 2-core AMD EPYC the small
budget took about 5 hours for all studies (each ELECTRA-size arm 15-20
minutes, pretraining and its 6 fine-tunes; each ALBERT arm 12; the
comparison's 8 checkpoints and the random-init floor about 70 minutes;
MiniLM's 12 fine-tunes most of the rest): `--studies comparison` alone
fits in 3 hours, the whole set does not. All arms share one learned
vocabulary and one set of prepared examples (ALBERT's with sentence pairs).

Everything is resumable: results are files under --root (default
~/runs/replicate/BUDGET); re-run the same command after an interruption.
Every finished fine-tune is also recorded in a ledger (--ledger, default
benchmarks/results/replication_BUDGET_runs.json on the default corpus): an
arm whose fine-tunes are all there is not pretrained again, so a study
survives the loss of its run folder (or the deletion of its checkpoints).
`--corpus` runs the study on your own text (files or registered corpora,
as `electra-keras pretrain --corpus` takes them).

    .venv/bin/python benchmarks/replicate.py --budget small          # about 5 hours on 2 cores
    .venv/bin/python benchmarks/replicate.py --quick                 # a tiny end-to-end check

Writes benchmarks/results/replication.json ({arm: {task: [test accuracies]},
"flops": {arm: training FLOPs}}), replication_*.png and, with --markdown,
the RESULTS.md tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import chosen, format_machine, machine_description, markdown_table, text_table  # noqa: E402
from pretraining_pays import TASKS, _same_settings, finetune_scores, tfidf_accuracy  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STUDIES = ("comparison", "ablations", "generator", "tying", "albert-sharing", "albert-sentence", "continued")

# Budgets in steps of the electra-cpu recipe (its FLOPs per step times these):
# every arm's FLOPs (the comparison's largest checkpoint), the continued
# run's steps (MiniLM-L6 costs about 10x electra-mini per step), and the
# fine-tuning epochs.
BUDGETS = {
    "small": {"steps": 800, "continued": 150, "epochs": 1},
    "medium": {"steps": 16000, "continued": 2000, "epochs": 3},
    "large": {"steps": 64000, "continued": 8000, "epochs": 3},
}
QUICK_BUDGET = {"steps": 8, "continued": 2, "epochs": 1}
CHECKPOINTS = 4  # budgets of the comparison


@dataclasses.dataclass(frozen=True)
class Arm:
    """One pretraining run of a study: a recipe's options with `changes`."""

    name: str
    recipe: str = "electra-cpu"
    changes: tuple = ()  # (PretrainingOptions field, value) pairs
    config: tuple = ()  # (ModelConfig field, value) pairs
    checkpoints: int = 1

    def options(self, base):
        options = dataclasses.replace(base, **dict(self.changes))
        return dataclasses.replace(options, config={**options.config, **dict(self.config)})

    @property
    def signature(self) -> tuple:
        """Arms with the same options are one run (e.g. the tying study's
        "embeddings" and the generator study's 1/4)."""
        return self.recipe, tuple(sorted(self.changes)), tuple(sorted(self.config))


def studies() -> dict[str, list[Arm]]:
    electra = Arm("electra", checkpoints=CHECKPOINTS)
    paper = (("weight_tying", "embeddings"),)  # the paper's sharing, with a narrower generator
    albert = Arm("albert", recipe="albert-cpu")
    return {
        "comparison": [electra, Arm("mlm", changes=(("objective", "mlm"),), checkpoints=CHECKPOINTS)],
        "ablations": [electra] + [Arm(name, changes=(("objective", name),))
                                  for name in ("electra-15", "replace-mlm", "all-tokens-mlm")],
        "generator": [Arm(f"electra-generator-{size}", changes=paper, config=(("generator_size", size),))
                      for size in (0.25, 0.5, 1.0)],
        "tying": [Arm(f"electra-tying-{mode}", changes=(("weight_tying", mode),), config=(("generator_size", 0.25),))
                  for mode in ("none", "embeddings", "gdes")] + [electra],
        "albert-sharing": [albert] + [Arm(f"albert-share-{mode}", recipe="albert-cpu", config=(("share", mode),))
                                      for mode in ("none", "attention", "ffn")],
        "albert-sentence": [albert] + [Arm(name, recipe="albert-cpu", changes=(("objective", name),))
                                       for name in ("albert-nsp", "albert-none")],
        "continued": [],
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="small")
    parser.add_argument("--studies", default=",".join(STUDIES), help="comma-separated, of: " + ", ".join(STUDIES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated, of: " + ", ".join(TASKS))
    parser.add_argument("--root", help="run folder (default ~/runs/replicate/BUDGET)")
    parser.add_argument("--json", help="default benchmarks/results/replication.json (--quick: none)")
    parser.add_argument("--corpus", nargs="+", help="pretraining text (default: the recipes' corpus)")
    parser.add_argument("--eval-corpus", nargs="+", help="held-out text for the pretraining loss "
                        "(default: the recipes' one; with --corpus, none)")
    parser.add_argument("--ledger", help="record of finished fine-tunes, read back at start (default "
                        "benchmarks/results/replication_BUDGET_runs.json on the default corpus, else "
                        "ROOT/ledger.json; --quick: none)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny models, corpus and fine-tuning, 1 seed")
    return parser.parse_args(argv)


class Runner:
    """Pretrains arms at one FLOP budget on one shared vocabulary and data,
    and fine-tunes their checkpoints."""

    def __init__(self, root: Path, budget: dict, seeds: int, quick: bool, tasks=tuple(TASKS),
                 corpus=None, eval_corpus=None, ledger: Ledger | None = None):
        from electra_keras.training.pretrain import _learned_vocabulary

        self.root, self.budget, self.seeds, self.quick, self.tasks = root, budget, seeds, quick, tasks
        self.corpus, self.eval_corpus, self.ledger = corpus, eval_corpus, ledger
        self.checkpoints = 2 if quick else CHECKPOINTS
        self.runs: dict[tuple, dict] = {}  # arm signature -> its run
        self.data: dict[str, dict] = {}  # "electra" / "albert" -> prepared example folders
        # One vocabulary for every arm, learned once from the recipe's corpus.
        self.vocabulary = None
        options, _ = self.base("electra-cpu")
        self.vocabulary = _learned_vocabulary(dataclasses.replace(options, out=str(root)), chief=True)
        self.reference = self.flops_per_step(options)

    def base(self, recipe_name: str):
        """(PretrainingOptions, fine-tuning settings) of a recipe, on the shared vocabulary."""
        from electra_keras.training.recipes import RECIPES, recipe

        name = RECIPES[recipe_name].get("quick", recipe_name) if self.quick else recipe_name
        options, finetuning = recipe(name, out=str(self.root))
        if self.quick:
            options.corpus = options.eval_corpus = [str(self.root / "corpus.txt")]
        if self.corpus:
            options = dataclasses.replace(options, corpus=list(self.corpus), eval_corpus=self.eval_corpus)
        if self.vocabulary is not None:
            options = dataclasses.replace(options, vocabulary=self.vocabulary, vocabulary_size=None)
        return options, finetuning

    @staticmethod
    def flops_per_step(options) -> float:
        from pretraining_pays import flops_per_step

        return flops_per_step(options)

    def run(self, arm: Arm) -> dict:
        """Pretrains the arm (or resumes it) for the budget's FLOPs and fine-tunes its checkpoints."""
        from electra_keras.training.pretrain import pretrain

        if arm.signature in self.runs:
            return self.runs[arm.signature]
        base, finetuning = self.base(arm.recipe)
        out = self.root / "runs" / arm.name
        options = dataclasses.replace(arm.options(base), out=str(out))
        family = "albert" if options.objective.startswith("albert") else "electra"
        options = dataclasses.replace(options, **self.data.get(family, {}))
        per_step = self.flops_per_step(options)
        checkpoints = self.checkpoints if arm.checkpoints > 1 else 1
        steps = max(checkpoints, round(self.budget["steps"] * self.reference / per_step))
        steps -= steps % checkpoints
        every = steps // checkpoints
        options = dataclasses.replace(
            options, total_steps=steps, checkpoint_every=every, keep_checkpoints=checkpoints + 1,
            warmup_steps=min(options.warmup_steps, max(1, steps // 10)),
            log_every=max(1, min(options.log_every, every)),
        )
        print(f"== {arm.name}: {steps:,} steps of {per_step / 1e12:.3g} TFLOPs "
              f"(the FLOPs of {self.budget['steps']:,} electra-cpu steps)", flush=True)
        labels = {step: f"{arm.name}/step-{step}" for step in [every * (i + 1) for i in range(checkpoints)]}
        if all(self.finished(label, finetuning) for label in labels.values()):
            print(f"{arm.name}: every checkpoint is fine-tuned already; not pretraining it again", flush=True)
        else:
            pretrain(options)
            self.data.setdefault(family, {"data": str(out / "data"), "eval_data": str(out / "eval-data")
                                          if (out / "eval-data").exists() else None})
        points = []
        for step, label in labels.items():
            scores = self.finetune(label, lambda step=step: export(out, step), finetuning)
            points.append({"step": step, "flops": step * per_step, **scores})
        self.runs[arm.signature] = {"points": points, "flops": steps * per_step, "finetuning": finetuning,
                                    "run": out, "family": family}
        return self.runs[arm.signature]

    def continued(self) -> tuple[Path, int, float]:
        """MiniLM-L6 continued with ELECTRA on movie dialogs (the budget's continued steps)."""
        from electra_keras.data import packages
        from electra_keras.training.pretrain import PretrainingOptions, pretrain

        steps = self.budget["continued"]
        text = [str(self.root / "corpus.txt")] if self.quick else None
        options = PretrainingOptions(
            out=str(self.root / "runs" / "minilm-continued"), init=str(packages.minilm_dir()),
            corpus=text or ["movie-dialogs"], eval_corpus=text or ["wikitext-2-valid"],
            sequence_length=32 if self.quick else 128, batch_size=4 if self.quick else 32, total_steps=steps,
            learning_rate=1e-4, warmup_steps=max(1, steps // 10), checkpoint_every=steps,
            log_every=max(1, steps // 10), eval_batches=1 if self.quick else 8, prior_init=True,
        )
        print(f"== minilm-continued: {steps:,} steps", flush=True)
        recorded = self.ledger.flops.get("minilm-continued") if self.ledger is not None else None
        if recorded is not None and self.finished("minilm-continued", self.continued_settings()):
            print("minilm-continued: fine-tuned already; not pretraining it again", flush=True)
            return Path(options.out), steps, recorded
        summary = pretrain(options)
        if self.ledger is not None:
            self.ledger.record_flops("minilm-continued", float(summary["flops"]))
        return Path(options.out), steps, float(summary["flops"])

    def continued_settings(self) -> dict:
        """Fine-tuning settings of the MiniLM arms: a 6-layer, 384-wide released
        checkpoint fine-tunes at the demo's lower rate."""
        _, finetuning = self.base("electra-cpu")
        return {title: dict(values, learning_rate=1e-4) for title, values in finetuning.items()}

    def task_settings(self, settings: dict, task: str) -> dict:
        task_settings = dict(settings[TASKS[task]], epochs=self.budget["epochs"])
        if self.quick:
            task_settings.update(max_train_examples=64, max_eval_examples=64)
        return task_settings

    def finished(self, label: str, settings: dict) -> bool:
        """Whether every task and seed of `label` is fine-tuned with these settings
        (in the run folder or, copied back into it, in the ledger)."""
        done = True
        for task in self.tasks:
            for seed in range(self.seeds):
                out = self.root / "finetune" / label / task / f"seed-{seed}"
                if self.ledger is not None:
                    self.ledger.restore(out, f"{label}/{task}/seed-{seed}")
                done &= (out / "scores.json").exists() and _same_settings(
                    out / "options.json", self.task_settings(settings, task))
        return done

    def finetune(self, label: str, init, settings: dict, random_init: bool = False) -> dict:
        """{task: [test accuracy per seed]} of one checkpoint (or its architecture at random init).

        `init` is a folder or a callable making one, called only when a fine-tune has to run."""
        if self.finished(label, settings):
            init = "(fine-tuned already)"
        elif callable(init):
            init = init()
        scores = {}
        for task in self.tasks:
            task_settings = self.task_settings(settings, task)
            scores[task] = []
            for seed in range(self.seeds):
                outcome = finetune_scores(self.root, init, label, task, seed, task_settings, random_init)
                if self.ledger is not None:
                    self.ledger.record(self.root / "finetune" / label / task / f"seed-{seed}",
                                       f"{label}/{task}/seed-{seed}")
                scores[task].append(outcome["test"]["accuracy"])
        return scores


class Ledger:
    """Every finished fine-tune of a study (its scores.json and options.json), in
    one JSON file that outlives the run folder. Records of another budget or
    corpus are refused, not mixed in."""

    def __init__(self, path: Path, study: dict):
        self.path, self.study = Path(path), study
        self.runs: dict[str, dict] = {}
        self.flops: dict[str, float] = {}
        if self.path.exists():
            data = json.loads(self.path.read_text())
            if data.get("study") != study:
                raise SystemExit(f"--ledger {self.path} records another study ({data.get('study')}), not {study}; "
                                 "pass another --ledger")
            self.runs, self.flops = data.get("runs", {}), data.get("flops", {})
            print(f"ledger {self.path}: {len(self.runs)} finished fine-tunes", flush=True)

    def restore(self, out: Path, key: str) -> None:
        if key in self.runs and not (out / "scores.json").exists():
            out.mkdir(parents=True, exist_ok=True)
            for name, content in self.runs[key].items():
                (out / f"{name}.json").write_text(json.dumps(content, indent=2) + "\n")

    def record(self, out: Path, key: str) -> None:
        record = {name: json.loads((out / f"{name}.json").read_text()) for name in ("scores", "options")}
        if self.runs.get(key) != record:
            self.runs[key] = record
            self.save()

    def record_flops(self, name: str, flops: float) -> None:
        self.flops[name] = flops
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"study": self.study, "flops": self.flops, "runs": dict(sorted(self.runs.items()))}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, default=float) + "\n")
        temporary.replace(self.path)


def export(run: Path, step: int) -> str:
    from electra_keras.training.pretrain import export_checkpoint

    folder = run / f"step-{step}"
    if not (folder / "run.json").exists():
        export_checkpoint(run, step, folder)
    return str(folder)


# --- the studies --------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    studies_chosen = chosen(args.studies, STUDIES, "--studies")
    tasks = tuple(chosen(args.tasks, TASKS, "--tasks"))
    scratch = tempfile.TemporaryDirectory() if args.quick else None
    root = Path(scratch.name if args.quick else args.root or Path("~/runs/replicate").expanduser() / args.budget)
    root.mkdir(parents=True, exist_ok=True)
    if args.quick:
        from pretraining_pays import _quick_corpus

        _quick_corpus(root)
    start = time.perf_counter()
    budget = QUICK_BUDGET if args.quick else BUDGETS[args.budget]
    ledger = None
    if args.ledger or not args.quick:
        default = RESULTS / f"replication_{args.budget}_runs.json" if not args.corpus else root / "ledger.json"
        study = {"budget": budget, "seeds": args.seeds, "corpus": args.corpus, "eval_corpus": args.eval_corpus}
        ledger = Ledger(Path(args.ledger) if args.ledger else default, study)
    runner = Runner(root, budget, 1 if args.quick else args.seeds, args.quick, tasks,
                    corpus=args.corpus, eval_corpus=args.eval_corpus, ledger=ledger)
    results: dict[str, dict] = {"flops": {}}
    curves: dict[str, list] = {}
    for study, arms in studies().items():
        if study not in studies_chosen:
            continue
        for arm in arms:
            outcome = runner.run(arm)
            results[arm.name] = {task: outcome["points"][-1][task] for task in tasks}
            results["flops"][arm.name] = outcome["flops"]
            if study == "comparison":
                curves[arm.name] = outcome["points"]
    # Random init of each family's architecture: the floor every arm should clear.
    for family in ("electra", "albert"):
        outcome = next((run for run in runner.runs.values() if run["family"] == family), None)
        if outcome is not None:
            step = outcome["points"][-1]["step"]
            results[f"{family}-random-init"] = runner.finetune(
                f"{family}-random-init", lambda run=outcome["run"], step=step: export(run, step),
                outcome["finetuning"], random_init=True)
    if "continued" in studies_chosen:
        from electra_keras.data import packages

        out, steps, flops = runner.continued()
        settings = runner.continued_settings()
        results["minilm-continued"] = runner.finetune("minilm-continued", lambda: export(out, steps), settings)
        results["flops"]["minilm-continued"] = flops
        results["minilm"] = runner.finetune("minilm", str(packages.minilm_dir()), settings)
    if not args.quick:
        results["tfidf"] = {task: tfidf_accuracy(task)["test"] for task in tasks}

    report = {"budget": "quick" if args.quick else args.budget, "seeds": runner.seeds, "tasks": tasks,
              "results": results,
              "curves": curves, "machine": machine_description(), "reference_flops_per_step": runner.reference}
    print(format_machine(report["machine"]))
    headers = ["arm", "PFLOPs", *(f"{task} test accuracy, median" for task in tasks)]
    rows = table_rows(results, tasks)
    print(markdown_table(headers, rows) if args.markdown else text_table(headers, rows))
    tables = study_tables(runner, results, curves, studies_chosen, tasks)
    if args.markdown:
        print(tables)
    if not args.quick:
        args.json = args.json or str(RESULTS / "replication.json")
        if not args.corpus:
            write_results_section(report, tables)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
        path.with_name(path.stem + "_report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        if curves:
            plot_comparison(report, path.with_suffix(".png"))
        print(f"wrote {path}")
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min")
    if scratch is not None:
        scratch.cleanup()
    return 0


def table_rows(results: dict, tasks) -> list[list]:
    rows = []
    for name, scores in results.items():
        if name == "flops":
            continue
        flops = results["flops"].get(name)
        cells = [f"{statistics.median(v):.4f}" if isinstance(v, list) else f"{v:.4f}"
                 for v in (scores[task] for task in tasks)]
        rows.append([name, "-" if flops is None else f"{flops / 1e15:.4f}", *cells])
    return rows


# The papers' figures the studies compare with: ELECTRA's Table 5 (GLUE dev
# score), ALBERT's Tables 4 and 5 (ALBERT-base, E=128: the average of SQuAD
# 1.1/2.0, MNLI, SST-2 and RACE).
PAPER = {
    "ablations": {"electra": 85.0, "all-tokens-mlm": 84.3, "replace-mlm": 82.4, "electra-15": 82.4, "mlm": 82.2},
    "albert-sharing": {"albert-share-none": 81.6, "albert-share-ffn": 80.2, "albert-share-attention": 81.7,
                       "albert": 80.1},
    "albert-sentence": {"albert-none": 79.0, "albert-nsp": 79.2, "albert": 80.1},
    "tying": {"electra-tying-none": 83.6, "electra-tying-embeddings": 84.3, "electra": 84.4},
}


def _cell(scores: list[float]) -> str:
    """Median of the seeds, with their range."""
    if len(scores) == 1:
        return f"{scores[0]:.3f}"
    return f"{statistics.median(scores):.3f} ({min(scores):.3f}-{max(scores):.3f})"


def parameter_counts(run: Path) -> tuple[int, int]:
    """(the encoder that is fine-tuned, the whole pretraining model) of a run folder."""
    from electra_keras.encoder import Encoder
    from electra_keras.training.pretrain import PretrainingOptions, _build_model

    options = PretrainingOptions(**json.loads((run / "run.json").read_text()))
    model = _build_model(options, options.vocabulary_path())
    encoder = getattr(model, "discriminator", None) or getattr(model, "encoder", None)
    if not isinstance(encoder, Encoder):
        encoder = getattr(encoder, "backbone", encoder)
    unique = {id(v): v for v in model.trainable_variables}
    return (int(sum(np.prod(v.shape) for v in {id(v): v for v in encoder.trainable_variables}.values())),
            int(sum(np.prod(v.shape) for v in unique.values())))


def study_tables(runner: Runner, results: dict, curves: dict, studies_chosen, tasks) -> str:
    """Markdown: one table per study (median test accuracy of the seeds, their range)."""
    lines = []
    header = [*(f"{task} (median, range)" for task in tasks)]
    if "comparison" in studies_chosen and curves:
        lines += ["#### Equal compute: ELECTRA against masked LM (paper Figure 1, left)", ""]
        rows = [[name, f"{point['step']:,}", f"{point['flops'] / 1e15:.3g}", *(_cell(point[t]) for t in tasks)]
                for name, points in curves.items() for point in points]
        if "electra-random-init" in results:
            rows.append(["electra-random-init", "0", "0", *(_cell(results["electra-random-init"][t]) for t in tasks)])
        if "tfidf" in results:
            rows.append(["TF-IDF + logistic regression", "-", "-", *(f"{results['tfidf'][t]:.3f}" for t in tasks)])
        lines += [markdown_table(["objective", "steps", "PFLOPs", *header], rows), ""]
        if {"electra", "mlm"} <= set(curves):
            gaps = [f"{task} {100 * (statistics.median(curves['electra'][-1][task]) - statistics.median(curves['mlm'][-1][task])):+.1f}"
                    for task in tasks]
            lines += [f"ELECTRA minus MLM at the largest budget, median, points: {', '.join(gaps)} "
                      "(the issue's goal: +2 on each).", ""]
    titles = {"ablations": "Efficiency ablations (paper Table 5), one budget",
              "generator": "Generator width, word embeddings tied (paper Figure 3, left)",
              "tying": "Embedding sharing (paper section 3.1; GDES from DeBERTaV3)",
              "albert-sharing": "ALBERT cross-layer sharing at equal FLOPs (ALBERT Table 4)",
              "albert-sentence": "ALBERT sentence loss: SOP, NSP, none (ALBERT Table 5)"}
    arms_of = studies()
    mlm = next(arm for arm in arms_of["comparison"] if arm.name == "mlm")
    for study, title in titles.items():
        if study not in studies_chosen:
            continue
        paper = PAPER.get(study, {})
        arms = arms_of[study] + ([mlm] if study == "ablations" else [])
        rows = []
        for arm in arms:
            run = runner.runs.get(arm.signature)
            if arm.name not in results or run is None:
                continue
            encoder, total = parameter_counts(Path(run["run"]))
            name = arm.name
            if Path(run["run"]).name != arm.name:  # the same options as an arm of another study
                name += f" (= {Path(run['run']).name})"
            elif study == "tying" and arm.name == "electra":
                name += " (all weights tied: the recipe's)"
            rows.append([name, f"{encoder / 1e6:.2f}M", f"{total / 1e6:.2f}M", f"{run['flops'] / 1e15:.3g}",
                         *(_cell(results[arm.name][t]) for t in tasks),
                         *([f"{paper[arm.name]:.1f}" if arm.name in paper else "-"] if paper else [])])
        if study == "albert-sharing" and "albert-random-init" in results:
            rows.append(["albert-random-init", "-", "-", "0", *(_cell(results["albert-random-init"][t]) for t in tasks),
                         *(["-"] if paper else [])])
        columns = ["arm", "encoder params", "pretraining params", "PFLOPs", *header, *(["paper"] if paper else [])]
        lines += [f"#### {title}", "", markdown_table(columns, rows), ""]
    if "minilm-continued" in results and "minilm" in results:
        lines += ["#### Continued pretraining: MiniLM-L6 + ELECTRA on movie dialogs", ""]
        rows = [[name, "-" if results["flops"].get(name) is None else f"{results['flops'][name] / 1e15:.3g}",
                 *(_cell(results[name][t]) for t in tasks)] for name in ("minilm", "minilm-continued")]
        lines += [markdown_table(["encoder", "continued PFLOPs", *header], rows), ""]
        gaps = [f"{task} {100 * (statistics.median(results['minilm-continued'][task]) - statistics.median(results['minilm'][task])):+.1f}"
                for task in tasks]
        lines += [f"Continued minus direct, median, points: {', '.join(gaps)}.", ""]
    return "\n".join(lines)


SECTION_BEGIN = "<!-- benchmarks/replicate.py writes from here -->"
SECTION_END = "<!-- benchmarks/replicate.py writes up to here -->"


def write_results_section(report: dict, tables: str, path: Path = Path(__file__).resolve().parent / "RESULTS.md"):
    """Replaces the section between the markers in RESULTS.md (appends it the first time)."""
    machine = format_machine(report["machine"])
    body = (f"{SECTION_BEGIN}\n`benchmarks/replicate.py --budget {report['budget']}`, {report['seeds']} seeds, "
            f"tasks {', '.join(report['tasks'])}; test accuracy of each fine-tune.\n\n{machine}\n\n"
            f"![ELECTRA vs masked LM at equal compute](results/replication.png)\n\n{tables}\n{SECTION_END}")
    text = path.read_text() if path.exists() else ""
    if SECTION_BEGIN in text and SECTION_END in text:
        before, rest = text.split(SECTION_BEGIN, 1)
        text = before + body + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## The papers' claims at our scale (`benchmarks/replicate.py`)\n\n" + body + "\n"
    path.write_text(text)
    print(f"wrote its section of {path}")


def plot_comparison(report: dict, path: Path) -> None:
    """The paper's Figure 1 (left): downstream accuracy against pretraining FLOPs, one line per objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = report["tasks"]
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for name, points in report["curves"].items():
            x = [point["flops"] for point in points]
            axis.plot(x, [statistics.median(point[task]) for point in points], "o-", label=name)
            for position, point in zip(x, points, strict=True):
                axis.scatter([position] * len(point[task]), point[task], alpha=0.3, s=10)
        results = report["results"]
        if "electra-random-init" in results:
            axis.axhline(statistics.median(results["electra-random-init"][task]), color="tab:red",
                         linestyle="--", label="random init")
        if "tfidf" in results:
            axis.axhline(results["tfidf"][task], color="tab:gray", linestyle=":", label="TF-IDF + LR")
        axis.set_xlabel("pretraining FLOPs")
        axis.set_ylabel("test accuracy")
        axis.set_title(task)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"ELECTRA vs masked LM at equal compute ({report['budget']} budget, "
                    f"{report['machine']['cpu']})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
