"""One fine-tuning run, end to end: what `electra-keras finetune` does.

    task data (shipped or user files) -> task model from a pretrained
    checkpoint (or random weights) -> finetune_adamw (warmup 10%, linear
    decay, layer-wise rates) -> fit with dev evaluation -> dev/test scores
    -> out/model.keras, out/scores.json, out/options.json (the run's options,
    from which `electra-keras export` finds the task's data again)

Task kinds: "classification" (single text or pair), "regression",
"tagging" (NER) and "squad" (extractive QA). The shipped datasets name
their kind: "sentiment", "question-type" (classification) and "ner". A
kind's data is the user's files, or Hugging Face / TFDS datasets
(`hf:...`, `tfds:...`, or the dataset objects; see
`electra_keras.data.dataset_libraries`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("classification", "regression", "tagging", "squad")
SHIPPED = {"sentiment": "classification", "question-type": "classification", "ner": "tagging"}


@dataclasses.dataclass
class FinetuningOptions:
    """Everything a fine-tuning run needs; the CLI flags map one to one.

    Args:
        out: run folder for model.keras and scores.json.
        task: a shipped dataset ("sentiment", "question-type", "ner") or a
            kind ("classification", "regression", "tagging", "squad") read
            from `train`/`dev`/`test` files.
        init: the pretrained model (run folder, .keras, transformers folder,
            TF1 checkpoint); None with `preset` for random initialization.
        preset: with `init=None`: the architecture to initialize randomly.
        random_init: with `init`: its architecture, vocabulary and casing
            but random weights (the baseline that shows what its
            pretraining is worth).
        vocabulary, lowercase: override what `init` comes with (required
            with `preset`: default the BERT-uncased vocabulary).
        train, dev, test: the data of a kind: files (CSV/TSV/JSONL, CoNLL,
            SQuAD JSON), or datasets: `hf:NAME_OR_FOLDER[:CONFIG][@SPLIT]`,
            `tfds:NAME[@SPLIT]`, a `datasets.Dataset`/`DatasetDict` or a
            TFDS builder (a dataset's train, validation and test split by
            default; `electra_keras.data.dataset_libraries`).
        text_column, text_b_column, label_column: CSV/TSV/JSONL columns, or
            a dataset's (for tagging: its word-list and tag-list columns).
        epochs, batch_size, learning_rate, layer_decay, weight_decay,
        warmup_fraction: the recipe (ELECTRA's: 3 epochs, 32, warmup 10%).
            learning_rate and layer_decay left None come from the preset the
            model's encoder is (ELECTRA paper Table 7: Small 3e-4, Base 1e-4,
            Large 5e-5 with layer decay 0.9; else 1e-4 and 0.8).
        sequence_length: tokens per example.
        max_train_examples: use only N training examples (a seeded random subset).
        max_eval_examples: validate and score on N dev and N test examples
            (seeded random subsets; scores.json records how many): for quick
            checks, not for figures to compare with full test sets.
        optimizer: "adamw" (bias-corrected, the default) or "official_adamw"
            (see `electra_keras.training.optimizers`).
        early_stopping: stop after this many epochs without a better dev
            loss; None trains every epoch. Either way the best dev epoch's
            weights are kept (`electra_keras.training.finetune_log`).
        seed: initialization, dropout and data order.
        config: ModelConfig overrides for `preset`.
    """

    out: str
    task: str
    init: str | None = None
    preset: str | None = None
    random_init: bool = False
    vocabulary: str | None = None
    lowercase: bool | None = None
    train: Any = None
    dev: Any = None
    test: Any = None
    text_column: str = "text"
    text_b_column: str | None = None
    label_column: str = "label"
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float | None = None
    layer_decay: float | None = None
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    sequence_length: int = 128
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    optimizer: str = "adamw"
    early_stopping: int | None = None
    seed: int = 0
    config: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        from electra_keras.training.optimizers import ADAMW_VARIANTS

        problems = []
        if self.optimizer not in ADAMW_VARIANTS:
            problems.append(f"optimizer={self.optimizer!r}: expected one of {ADAMW_VARIANTS}")
        if self.task not in SHIPPED and self.task not in KINDS:
            problems.append(f"task={self.task!r}: expected one of {', '.join([*SHIPPED, *KINDS])}")
        if self.task in KINDS and (self.train is None or self.train == ""):
            problems.append(f"task={self.task!r} reads your files: pass train (and dev/test)")
        if (self.init is None) == (self.preset is None):
            problems.append("pass exactly one of init (a pretrained model) or preset (random weights)")
        if self.random_init and self.init is None:
            problems.append("random_init takes the architecture of init: pass init")
        for name in ("epochs", "batch_size", "sequence_length"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)}: expected a positive number")
        if self.early_stopping is not None and self.early_stopping < 1:
            problems.append(f"early_stopping={self.early_stopping}: expected a number of epochs >= 1 (or None)")
        if problems:
            raise ValueError("Invalid fine-tuning options: " + "; ".join(problems))

    @property
    def kind(self) -> str:
        return SHIPPED.get(self.task, self.task)


def load_task_data(options: FinetuningOptions):
    """The task's Splits: a shipped dataset, or the user's files or datasets."""
    from electra_keras.data import tasks

    shipped = {"sentiment": tasks.sentiment, "question-type": tasks.question_type, "ner": tasks.ner}
    if options.task in shipped:
        return shipped[options.task]()
    if options.kind == "tagging":
        # The columns name a dataset's word and tag lists; CoNLL files ignore them.
        return tasks.read_splits(options.train, options.dev, options.test, kind="conll",
                                 text_column=options.text_column, label_column=options.label_column)
    if options.kind == "squad":
        return tasks.read_splits(options.train, options.dev, options.test, kind="squad")
    return tasks.read_splits(
        options.train, options.dev, options.test, kind="text", text_column=options.text_column,
        text_b_column=options.text_b_column, label_column=options.label_column,
        task="regression" if options.kind == "regression" else "classification",
    )


def build_task_model(options: FinetuningOptions, train):
    """The task model for `train`'s labels, from `init` or random weights."""
    kind = options.kind
    if kind == "tagging":
        from electra_keras.tasks.token_classifier import TokenClassifier as model_class

        arguments = {"tag_names": train.tag_names}
    elif kind == "squad":
        from electra_keras.tasks.question_answering import SpanQuestionAnswerer as model_class

        # Questions of up to 64 pieces (the official code's), at most half of a short
        # sequence; windows share a third of their context pieces (BERT's 384/128 ratio).
        query = min(64, options.sequence_length // 2)
        context = options.sequence_length - query - 3
        arguments = {"version_2": train.version == "2.0", "max_query_length": query,
                     "doc_stride": max(1, min(128, context // 3))}
    else:
        from electra_keras.tasks.classifier import TextClassifier as model_class

        arguments = {"pair": train.texts_b is not None}
        if kind == "regression":
            arguments["regression"] = True
        else:
            arguments["label_names"] = train.label_names
    arguments["sequence_length"] = options.sequence_length
    if options.init is not None and options.random_init:
        from electra_keras.tasks.pretrained import load_pretrained

        pretrained = load_pretrained(options.init, vocabulary=options.vocabulary, lowercase=options.lowercase)
        return model_class(pretrained.config, pretrained.vocabulary, lowercase=pretrained.lowercase, **arguments)
    if options.init is not None:
        return model_class.from_pretrained(
            options.init, vocabulary=options.vocabulary, lowercase=options.lowercase, **arguments
        )
    from electra_keras.data import packages

    return model_class.from_preset(
        options.preset, options.vocabulary or packages.bert_uncased_vocab(),
        lowercase=True if options.lowercase is None else options.lowercase,
        config_overrides=options.config, **arguments,
    )


def model_inputs(kind: str, examples):
    """(x, y) in the form the task model's `fit` takes."""
    if kind == "tagging":
        return examples.words, examples.tags
    if kind == "squad":
        return examples, None
    x = examples.texts if examples.texts_b is None else (examples.texts, examples.texts_b)
    return x, np.asarray(examples.labels)


def score(model, kind: str, examples, batch_size: int = 64) -> dict[str, Any]:
    """The field's scores of `model` on `examples` (see electra_keras.tasks.metrics)."""
    from electra_keras.tasks import metrics

    if kind == "squad":
        return model.evaluate_squad(examples)
    x, y = model_inputs(kind, examples)
    if kind == "tagging":
        predicted = model.predict_tags(x, batch_size=batch_size)
        scores = metrics.entity_scores(y, predicted)
        return {"entity_precision": scores["precision"], "entity_recall": scores["recall"],
                "entity_f1": scores["f1"], "per_type": scores["per_type"]}
    predicted = model.predict_labels(x, batch_size=batch_size)
    if kind == "regression":
        return {"pearson": metrics.pearson(y, predicted), "spearman": metrics.spearman(y, predicted)}
    ids = [model.label_names.index(label) for label in predicted] if model.label_names else predicted
    report = metrics.classification_report(list(y), ids, label_names=model.label_names)
    return {key: value for key, value in report.items() if key != "per_class"}


def _subset(examples, count: int | None, seed: int):
    """A seeded random `count` of the examples (files are often sorted by label)."""
    total = _count(examples)
    if count is None or count >= total:
        return examples
    chosen = sorted(np.random.default_rng(seed).permutation(total)[:count].tolist())
    fields = {}
    for field in dataclasses.fields(examples):
        value = getattr(examples, field.name)
        if field.name in ("texts", "texts_b", "labels", "words", "tags", "examples") and value is not None:
            value = [value[i] for i in chosen]
        fields[field.name] = value
    return type(examples)(**fields)


def finetune(options: FinetuningOptions, verbose: int = 2) -> dict[str, Any]:
    """Runs one fine-tuning run; returns (and writes to out/scores.json) its scores.

    Example:
        finetune(FinetuningOptions(out="runs/sentiment", task="sentiment", init="runs/small"))
    """
    import keras

    from electra_keras.training.finetune_log import BestEpoch, EpochLog, plot_curves
    from electra_keras.training.optimizers import finetune_adamw

    keras.utils.set_random_seed(options.seed)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_task_data(options)
    print(splits.summary())
    train = _subset(splits.train, options.max_train_examples, options.seed)
    if options.max_eval_examples is not None:
        splits = dataclasses.replace(splits, **{
            name: _subset(getattr(splits, name), options.max_eval_examples, options.seed)
            for name in ("dev", "test") if getattr(splits, name) is not None})
        print(f"scoring on at most {options.max_eval_examples:,} dev and test examples (--max-eval-examples)")
    model = build_task_model(options, train)
    options = with_model_defaults(options, model)

    x, y = model_inputs(options.kind, train)
    steps_per_epoch = _steps_per_epoch(model, options, train)
    total_steps = steps_per_epoch * options.epochs
    model.compile(optimizer=finetune_adamw(
        model, learning_rate=options.learning_rate, total_steps=total_steps,
        warmup_steps=int(options.warmup_fraction * total_steps), layer_decay=options.layer_decay,
        weight_decay=options.weight_decay, optimizer=options.optimizer,
    ))
    validation = model_inputs(options.kind, splits.dev) if splits.dev is not None else None
    epoch_log, best = EpochLog(out / "metrics.jsonl", options.epochs), BestEpoch(patience=options.early_stopping)
    callbacks = [epoch_log, best, keras.callbacks.TensorBoard(log_dir=str(out / "logs"))]
    if options.kind == "squad":
        model.fit(train, validation_data=splits.dev, epochs=options.epochs,
                  batch_size=options.batch_size, verbose=verbose, callbacks=callbacks)
    else:
        model.fit(x, y, validation_data=validation, epochs=options.epochs,
                  batch_size=options.batch_size, verbose=verbose, callbacks=callbacks)
    selection = best.summary(len(epoch_log.records))
    print(f"kept epoch {selection['best_epoch']} of {selection['epochs_run']} "
          f"(lowest {selection['selected_by']})" if best.best_epoch else "kept the last epoch (no dev data)")
    if epoch_log.records:
        plot_curves(epoch_log.records, out / "curves.png")
    model.save(out / "model.keras")
    (out / "options.json").write_text(json.dumps(dataclasses.asdict(_recorded(options)), indent=2) + "\n")

    initialization = options.init or f"random {options.preset}"
    if options.random_init:
        initialization = f"random weights, the architecture of {options.init}"
    scores = {"task": options.task, "kind": options.kind, "init": initialization,
              "train_examples": _count(train), "total_steps": total_steps, "epochs": selection}
    for name in ("dev", "test"):
        examples = getattr(splits, name)
        if examples is not None:
            scores[name] = score(model, options.kind, examples)
            scores[f"{name}_examples"] = _count(examples)
    (out / "scores.json").write_text(json.dumps(scores, indent=2, default=float) + "\n")
    return scores


def _recorded(options: FinetuningOptions) -> FinetuningOptions:
    """The options as options.json records them: a dataset object as a description
    (an object cannot be found again from the file)."""
    from electra_keras.data.dataset_libraries import describe

    data = {name: getattr(options, name) for name in ("train", "dev", "test")}
    return dataclasses.replace(options, **{
        name: value if value is None or isinstance(value, str) else describe(value) for name, value in data.items()
    })


def with_model_defaults(options: FinetuningOptions, model) -> FinetuningOptions:
    """The options with an unset learning rate and layer decay taken from the
    preset the model's encoder is (`electra_keras.config.preset_of` and
    `finetuning_defaults`: the ELECTRA paper's Table 7 for its sizes, else
    1e-4 and 0.8), and printed."""
    from electra_keras.config import finetuning_defaults, preset_of

    unset = [name for name in ("learning_rate", "layer_decay") if getattr(options, name) is None]
    if not unset:
        return options
    preset = preset_of(model.backbone.config)
    values = {name: finetuning_defaults(preset)[name] for name in unset}
    print(f"{', '.join(f'{name} {value:g}' for name, value in values.items())}: the defaults of "
          + (f"the {preset} preset" if preset else "models without a preset"))
    return dataclasses.replace(options, **values)


def _count(examples) -> int:
    for name in ("texts", "words", "examples"):
        if hasattr(examples, name):
            return len(getattr(examples, name))
    raise TypeError(type(examples).__name__)


def _steps_per_epoch(model, options: FinetuningOptions, train) -> int:
    if options.kind == "squad":
        return max(1, math.ceil(model.count_windows(train) / options.batch_size))
    return max(1, math.ceil(_count(train) / options.batch_size))
