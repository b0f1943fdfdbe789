"""One pretraining run, end to end, resumable: what `electra-keras pretrain` does.

    corpus -> (vocabulary) -> TFRecord examples -> masked batches -> model.fit
    -> checkpoints every N steps -> discriminator/generator as .keras and
    transformers folders

Re-running the same command on the same `out` folder resumes from the latest
checkpoint: the step counter, the optimizer state (and with it the learning
rate schedule) come back from the checkpoint, and the data continues at the
next batch (the input order is a deterministic function of the seed, and the
masks a stateless function of the batch index, so batch i is the same in an
interrupted and an uninterrupted run).

Layout of `out`:
    data/                 TFRecord shards (prepared here unless --data is given)
    checkpoints/          the last k tf.train checkpoints
    logs/                 TensorBoard
    metrics.jsonl         one line per log step (with "flops": the training compute so far)
    run.json              the options of the run
    discriminator.keras, generator.keras (or masked_lm.keras, albert.keras)
    huggingface/          the same as transformers folders, with vocab.txt or spiece.model
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from electra_keras.training.optimizers import OPTIMIZERS, lamb_learning_rate, pretraining_optimizer
from electra_keras.training.strategy import is_chief, make_strategy

# ELECTRA and its efficiency ablations (ElectraPretrainer's variants), then the single-network objectives.
ELECTRA_OBJECTIVES = ("electra", "electra-15", "replace-mlm", "all-tokens-mlm")
# ALBERT with its sentence task: sentence order (the paper's), BERT's next sentence, none.
ALBERT_OBJECTIVES = {"albert": "sop", "albert-nsp": "nsp", "albert-none": "none"}
OBJECTIVES = (*ELECTRA_OBJECTIVES, "mlm", *ALBERT_OBJECTIVES)
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Learning rate, batch size, sequence length and masking rate left unset
# come from the preset (`electra_keras.config.pretraining_defaults`: the
# paper's for the ELECTRA sizes, else 2e-4, 128, 128, 15%; 2e-4 suits
# electra-mini at batch 32, where 5e-4 collapsed: validation AUC 0.85 after
# 300 steps against 0.53).


@dataclasses.dataclass
class PretrainingOptions:
    """Everything a pretraining run needs; the CLI flags map one to one.

    Args:
        out: run folder (created; re-running on it resumes).
        preset: model preset; `config` overrides its fields.
        init: continue pretraining from this encoder (a run folder, .keras
            file, transformers folder or official TF1 checkpoint) instead of
            the preset's random weights; ELECTRA only. The generator is new,
            `config["generator_size"]` (default 0.25) of the encoder's width,
            and the vocabulary and casing are the checkpoint's.
        objective: "electra" (replaced-token detection), its ablations
            "electra-15", "replace-mlm" and "all-tokens-mlm" (paper Table 5,
            see `pretraining.electra`), "mlm" (BERT's masked LM), "albert"
            (n-gram MLM + sentence-order prediction), "albert-nsp" (+ BERT's
            next-sentence prediction instead) or "albert-none" (n-gram MLM only).
        share: cross-layer sharing of the encoder(s): "none", "all",
            "attention", "ffn" or "groups"; None keeps the preset's.
        corpus: text files/folders/globs, shipped corpus names, or Hugging
            Face / TFDS datasets (`hf:...`, `tfds:...`, see
            `electra_keras.data.corpus.library_corpus`; a dataset object is
            converted into its corpus file here, so run.json names a file);
            None is WikiText-2 (train split).
        data: an already prepared TFRecord folder (skips preparation).
        eval_corpus: held-out text evaluated at every checkpoint with fixed
            masks; None is WikiText-2's valid split when `corpus` is the
            default, else no evaluation.
        eval_data: an already prepared held-out TFRecord folder.
        eval_batches: batches per evaluation.
        vocabulary: a WordPiece vocab.txt or a SentencePiece .model (see
            `build-vocab`); None is the BERT-uncased vocabulary, or with
            `vocabulary_size` one learned from the corpus.
        vocabulary_size: with no `vocabulary`, learn a WordPiece vocabulary
            of at most this many tokens from `corpus` into `out/vocab.txt`
            (once: a resumed run reuses it).
        lowercase: how the vocabulary normalizes text.
        sequence_length, batch_size: examples per global batch; None is the
            preset's (`electra_keras.config.pretraining_defaults`).
        total_steps: optimizer steps of the whole run.
        learning_rate: peak; None is the paper's for the preset (5e-4 Small,
            2e-4 Base/Large and the other presets).
        warmup_steps: None is 10,000 or 10% of a shorter run.
        checkpoint_every, keep_checkpoints: checkpoint cadence and retention.
        log_every: steps between metric lines and TensorBoard points.
        strategy, tpu: see electra_keras.training.strategy.
        precision: float32, mixed_bfloat16 or mixed_float16.
        xla: compile the train step with XLA (jit_compile).
        gradient_accumulation: batches averaged per optimizer update.
        masking_rate: fraction of tokens masked; None is the preset's (25% for
            electra-large, else 15%).
        whole_word_masking: choose whole words, not word pieces (the official
            ALBERT default); None is True for the ALBERT objectives, else
            False (`electra_keras.pretraining.masking`).
        prior_init: start the output layers at their priors, from the
            training data's token counts: the masked LM at the log unigram
            distribution, ELECTRA's discriminator at the share of replaced
            tokens (a new run only; see `Pretrainer.initialize_output_priors`).
            The official code starts both biases at zero.
        weight_tying: ELECTRA only: "embeddings", "none", "gdes" or "all"
            (see `ElectraPretrainer`).
        rtd_weight: ELECTRA only: lambda, the discriminator loss weight.
        optimizer: "adamw" (bias-corrected), "official_adamw" (the official
            ELECTRA update, no bias correction) or "lamb" (ALBERT's); None is
            "lamb" for the ALBERT objectives, else "adamw" (see
            `electra_keras.training.optimizers`). With "lamb" an unset
            learning_rate is ALBERT's scaled to the batch (`lamb_learning_rate`).
        seed: data order, masks and initialization.
        config: ModelConfig fields overriding the preset (e.g. tiny test sizes).
        export: write the final .keras and transformers models.
    """

    out: str
    preset: str = "electra-small"
    init: str | None = None
    objective: str = "electra"
    share: str | None = None
    corpus: list[str] | None = None
    data: str | None = None
    eval_corpus: list[str] | None = None
    eval_data: str | None = None
    eval_batches: int = 20
    vocabulary: str | None = None
    vocabulary_size: int | None = None
    lowercase: bool = True
    sequence_length: int | None = None
    batch_size: int | None = None
    total_steps: int = 1000
    learning_rate: float | None = None
    warmup_steps: int | None = None
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 50
    strategy: str = "auto"
    tpu: str | None = None
    precision: str = "float32"
    xla: bool = False
    gradient_accumulation: int | None = None
    masking_rate: float | None = None
    whole_word_masking: bool | None = None
    prior_init: bool = False
    weight_tying: str = "embeddings"
    rtd_weight: float = 50.0
    optimizer: str | None = None
    seed: int = 0
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    export: bool = True

    def __post_init__(self):
        from electra_keras.config import pretraining_defaults
        from electra_keras.data.corpus import library_corpus

        # Paths as strings: run.json records the options as JSON (a pathlib.Path is not).
        for name in ("out", "init", "data", "eval_data", "vocabulary"):
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        for name in ("corpus", "eval_corpus"):
            items = getattr(self, name)
            if isinstance(items, os.PathLike):
                setattr(self, name, os.fspath(items))
            elif items is not None and not isinstance(items, str):
                setattr(self, name, [
                    item if isinstance(item, str) else os.fspath(item) if isinstance(item, os.PathLike)
                    else str(library_corpus(item)) for item in items
                ])

        if self.optimizer is None:
            self.optimizer = "lamb" if self.objective in ALBERT_OBJECTIVES else "adamw"
        if self.whole_word_masking is None:
            self.whole_word_masking = self.objective in ALBERT_OBJECTIVES
        defaults = pretraining_defaults(self.preset)
        if self.optimizer == "lamb" and self.learning_rate is None:
            self.learning_rate = lamb_learning_rate(self.batch_size or defaults["batch_size"])
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        problems = []
        if self.objective not in OBJECTIVES:
            problems.append(f"objective={self.objective!r}: expected one of {OBJECTIVES}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r}: expected one of {PRECISIONS}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer={self.optimizer!r}: expected one of {OPTIMIZERS}")
        for name in ("sequence_length", "batch_size", "total_steps", "checkpoint_every",
                     "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)}: expected a positive integer")
        if self.vocabulary is not None and self.vocabulary_size is not None:
            problems.append("pass vocabulary (a file) or vocabulary_size (learn one from the corpus), not both")
        if self.init is not None and self.whole_word_masking:
            problems.append("whole_word_masking: continued pretraining (init) masks word pieces")
        if self.init is not None and self.objective not in ELECTRA_OBJECTIVES:
            problems.append(f"init (continued pretraining) is for objective='electra' (or its variants), "
                            f"not {self.objective!r}")
        if self.init is not None and self.vocabulary_size is not None:
            problems.append("init brings its own vocabulary: vocabulary_size cannot be used with it")
        if problems:
            raise ValueError("Invalid pretraining options: " + "; ".join(problems))

    def vocabulary_path(self) -> str:
        """The run's vocabulary: given, learned into out/vocab.txt, or BERT-uncased."""
        from electra_keras.data import packages

        if self.vocabulary is not None:
            return str(self.vocabulary)
        if self.vocabulary_size is not None:
            return str(Path(self.out) / LEARNED_VOCABULARY)
        return str(packages.bert_uncased_vocab())


# Where a run keeps the vocabulary it learned from its corpus (vocabulary_size).
LEARNED_VOCABULARY = "vocab.txt"
# How long a worker waits for the chief to learn the vocabulary.
VOCABULARY_WAIT_SECONDS = 3600


def _vocabulary_file(vocabulary, out: Path) -> str:
    """A path for a vocabulary: itself, or (a token list, as TF1 checkpoints
    may give) written to out/vocab.txt."""
    if isinstance(vocabulary, (str, os.PathLike)):
        return str(vocabulary)
    from electra_keras.data.vocabulary import write_vocabulary

    return str(write_vocabulary(vocabulary, out / LEARNED_VOCABULARY))


def _learned_vocabulary(options: PretrainingOptions, chief: bool) -> str:
    """Learns the run's WordPiece vocabulary from its corpus once (on the chief)."""
    from electra_keras.data.vocabulary import build_wordpiece_vocabulary, write_vocabulary

    path = Path(options.vocabulary_path())
    if path.is_file():
        print(f"Reusing the vocabulary learned earlier: {path}")
        return str(path)
    if chief:
        print(f"Learning a {options.vocabulary_size:,}-token WordPiece vocabulary from the corpus")
        tokens = build_wordpiece_vocabulary(
            options.corpus, vocabulary_size=options.vocabulary_size, lowercase=options.lowercase
        )
        partial = path.with_suffix(".partial")
        write_vocabulary(tokens, partial)
        partial.replace(path)
        return str(path)
    deadline = time.monotonic() + VOCABULARY_WAIT_SECONDS
    while not path.is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the chief did not write {path} within {VOCABULARY_WAIT_SECONDS} s")
        time.sleep(5)
    return str(path)


class StepCounter(keras.callbacks.Callback):
    """Counts the batches trained, the run's steps; checkpointed with the model.

    `optimizer.iterations` counts applied updates instead: under
    mixed_float16, dynamic loss scaling skips the updates whose gradients
    overflow (3 of the first 4 in a tiny run), so it lags the batches, and
    resuming from it would repeat data. Must be the first callback.
    """

    def __init__(self):
        super().__init__()
        self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="trained_steps")

    @property
    def step(self) -> int:
        return int(self.variable.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self.variable.assign_add(1)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops the run at the first non-finite loss, before anything is saved.

    Checkpoints are written at epoch ends only, so raising here leaves the
    last good checkpoint as the latest one.
    """

    def __init__(self, checkpoint_dir: Path, counter: StepCounter):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self.counter = counter

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = self.counter.step
            latest = tf.train.latest_checkpoint(str(self.checkpoint_dir))
            raise NonFiniteLossError(
                f"The loss became {float(loss)} at step {step}; training stopped. "
                f"The last good checkpoint is intact: {latest or 'none yet'}. "
                "Lower the learning rate (or check the data), then re-run the same "
                "command to resume from it."
            )


class CheckpointEvery(keras.callbacks.Callback):
    """Saves model + optimizer at every epoch end (= every N steps) and at the
    last step, keeping the last k checkpoints."""

    def __init__(self, manager: tf.train.CheckpointManager, total_steps: int, counter: StepCounter):
        super().__init__()
        self.manager = manager
        self.total_steps = total_steps
        self.counter = counter

    def _step(self) -> int:
        return self.counter.step

    def on_train_batch_end(self, batch, logs=None):
        if self._step() >= self.total_steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(checkpoint_number=self._step())


class MetricsLog(keras.callbacks.Callback):
    """Appends {step, seconds, metrics...} to a JSON-lines file every N steps.

    Keras' logs are means since the start of the epoch (= the checkpoint
    interval), the same numbers as the progress bar.
    """

    def __init__(self, path: Path, every: int, batch_size: int, sequence_length: int, counter: StepCounter,
                 flops_per_step: int | None = None):
        super().__init__()
        self.counter = counter
        self.flops_per_step = flops_per_step
        self.path = path
        self.every = every
        self.tokens_per_step = batch_size * sequence_length
        self.batch_size = batch_size
        self._last = None

    def on_train_begin(self, logs=None):
        self._last = (time.perf_counter(), self.counter.step)

    def on_epoch_end(self, epoch, logs=None):
        evaluation = {k: float(v) for k, v in (logs or {}).items() if k.startswith("val_")}
        if evaluation:
            step = self.counter.step
            with self.path.open("a") as file:
                file.write(json.dumps({"step": step, "evaluation": True, **evaluation}) + "\n")

    def on_train_batch_end(self, batch, logs=None):
        step = self.counter.step
        if step % self.every:
            return
        now = time.perf_counter()
        seconds, steps = now - self._last[0], step - self._last[1]
        self._last = (now, step)
        record = {"step": step, **{k: float(v) for k, v in (logs or {}).items()}}
        if self.flops_per_step:
            record["flops"] = float(step * self.flops_per_step)  # the training compute so far
        if steps > 0 and seconds > 0:
            record["sequences_per_second"] = steps * self.batch_size / seconds
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")


def truncate_metrics_log(path: Path, step: int) -> None:
    """Drops lines past `step`: a resumed run redoes those steps, each step is
    then logged exactly once."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))


def _data_recipe(corpus, options: PretrainingOptions, vocabulary: str) -> dict[str, Any]:
    """What prepared examples depend on, in the terms `metadata.json` records."""
    from electra_keras.data.corpus import resolve_corpus
    from electra_keras.data.tokenizer import make_tokenizer
    from electra_keras.data.vocabulary import vocabulary_sha256

    return {
        "corpus": [str(path.resolve()) for path in resolve_corpus(corpus)],
        "sequence_length": options.sequence_length,
        "lowercase": options.lowercase,
        "seed": options.seed,
        # ALBERT's sentence tasks need two segments per example (all three
        # ALBERT objectives read the same examples, so they compare fairly).
        "sentence_pairs": options.objective in ALBERT_OBJECTIVES,
        "vocabulary sha256": vocabulary_sha256(make_tokenizer(vocabulary).vocabulary),
    }


def _recorded_recipe(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "corpus": [str(Path(path).resolve()) for path in metadata["corpus"]["paths"]],
        "sequence_length": metadata["sequence_length"],
        "lowercase": metadata["lowercase"],
        "seed": metadata["seed"],
        # Folders prepared before the option existed hold ELECTRA's examples.
        "sentence_pairs": metadata.get("sentence_pairs", False),
        "vocabulary sha256": metadata["vocabulary"]["sha256"],
    }


def _prepare_data(corpus, data_dir: Path, options: PretrainingOptions, vocabulary: str,
                  started: bool) -> Path:
    """Examples for `corpus` in `data_dir`, reused when prepared from the same recipe.

    The recipe is the corpus files, sequence length, lowercasing, seed and
    vocabulary (by SHA-256). A different recipe re-prepares the examples,
    unless the run has already trained on them (`started`): then resuming on
    other data would silently change the run, so it is an error.
    """
    from electra_keras.data.pretraining_data import load_metadata, prepare_pretraining_data

    wanted = _data_recipe(corpus, options, vocabulary)
    if (data_dir / "metadata.json").exists():
        recorded = _recorded_recipe(load_metadata(data_dir))
        changed = [name for name in wanted if wanted[name] != recorded[name]]
        if not changed:
            print(f"Reusing the prepared examples in {data_dir}")
            return data_dir
        differences = "; ".join(f"{name}: was {recorded[name]!r}, now {wanted[name]!r}" for name in changed)
        if started:
            raise ValueError(
                f"{data_dir} holds the examples this run was started with, but the arguments "
                f"now ask for different ones ({differences}). Re-run with the original "
                f"arguments to resume, or use a new --out for a new run."
            )
        print(f"Re-preparing {data_dir}: {differences}")
    prepare_pretraining_data(
        corpus, vocabulary, data_dir, sequence_length=options.sequence_length,
        lowercase=options.lowercase, seed=options.seed,
        sentence_pairs=options.objective in ALBERT_OBJECTIVES,
    )
    return data_dir


def _check_prepared(data_dir: Path, options: PretrainingOptions, vocabulary: str) -> None:
    """Given folders (--data, --eval-data) must match the model's tokenizer."""
    from electra_keras.data.pretraining_data import load_metadata
    from electra_keras.data.tokenizer import make_tokenizer
    from electra_keras.data.vocabulary import vocabulary_sha256

    recorded = load_metadata(data_dir)
    expected = vocabulary_sha256(make_tokenizer(vocabulary).vocabulary)
    if recorded["vocabulary"]["sha256"] != expected:
        raise ValueError(
            f"{data_dir} was prepared with another vocabulary (SHA-256 "
            f"{recorded['vocabulary']['sha256'][:12]}..., {recorded['vocabulary']['size']} tokens) "
            f"than {vocabulary} ({expected[:12]}...): token ids would mean different words. "
            f"Pass the vocabulary it was prepared with, or prepare the data again."
        )
    if recorded["lowercase"] != options.lowercase:
        raise ValueError(
            f"{data_dir} was prepared with lowercase={recorded['lowercase']}, "
            f"but this run has lowercase={options.lowercase}"
        )


def _datasets(options: PretrainingOptions, out: Path, vocabulary: str, chief: bool):
    """(train folder, held-out folder or None), preparing them on the chief."""
    from electra_keras.data.corpus import wikitext2_corpus

    started = (out / "checkpoints" / "checkpoint").exists()
    if options.data:
        train = Path(options.data)
        _check_prepared(train, options, vocabulary)
    else:
        train = out / "data"
        if chief:
            _prepare_data(options.corpus, train, options, vocabulary, started)
    evaluation = Path(options.eval_data) if options.eval_data else None
    if evaluation is not None:
        _check_prepared(evaluation, options, vocabulary)
    eval_corpus = options.eval_corpus
    if evaluation is None and eval_corpus is None and options.corpus is None and options.data is None:
        eval_corpus = [str(wikitext2_corpus("valid"))]
    if evaluation is None and eval_corpus:
        evaluation = out / "eval-data"
        if chief:
            # Held-out examples do not affect training: re-preparing them is always safe.
            _prepare_data(eval_corpus, evaluation, options, vocabulary, started=False)
    return train, evaluation


def _build_model(options: PretrainingOptions, vocabulary: str, pretrained=None):
    """The compiled pretrainer the options describe (from `pretrained`, a loaded
    `Pretrained`, with options.init)."""
    from electra_keras.pretraining import AlbertPretrainer, ElectraPretrainer, MaskedLMPretrainer

    model_class = ElectraPretrainer
    if options.objective == "mlm":
        model_class = MaskedLMPretrainer
    elif options.objective in ALBERT_OBJECTIVES:
        model_class = AlbertPretrainer
    config = dict(options.config)
    if options.share is not None:
        config["share"] = options.share
    if options.objective == "mlm" or options.objective in ALBERT_OBJECTIVES:
        config.setdefault("generator_size", None)
    arguments = {}
    if options.objective in ALBERT_OBJECTIVES:
        config.setdefault("pooler", True)  # the sentence head reads the pooled [CLS]
        arguments = {"sentence_task": ALBERT_OBJECTIVES[options.objective]}
    if options.objective in ELECTRA_OBJECTIVES:
        arguments = {"weight_tying": options.weight_tying, "rtd_weight": options.rtd_weight,
                     "variant": options.objective}
    if options.init is not None:
        from electra_keras.tasks.pretrained import load_pretrained

        pretrained = pretrained or load_pretrained(options.init)
        model = ElectraPretrainer.from_pretrained(
            options.init, generator_size=config.pop("generator_size", 0.25), masking_rate=options.masking_rate,
            config_overrides=config, pretrained=pretrained, **arguments,
        )
    else:
        model = model_class.from_preset(
            options.preset, vocabulary=vocabulary, lowercase=options.lowercase,
            masking_rate=options.masking_rate, whole_word_masking=options.whole_word_masking,
            **config, **arguments,
        )
    optimizer = pretraining_optimizer(
        options.optimizer,
        learning_rate=options.learning_rate,
        total_steps=math.ceil(options.total_steps / (options.gradient_accumulation or 1)),
        warmup_steps=options.warmup_steps,
        gradient_accumulation_steps=options.gradient_accumulation,
    )
    model.seed = options.seed  # dropout and samples: a function of (seed, step)
    model.compile(optimizer=optimizer, jit_compile=options.xla)
    return model


def _export(model, out: Path, vocabulary: str, lowercase: bool) -> list[Path]:
    from electra_keras.convert import to_huggingface
    from electra_keras.convert.huggingface import UnsupportedArchitectureError, write_tokenizer_files
    from electra_keras.pretraining import FINE_TUNED_PART

    written = []
    if hasattr(model, "discriminator"):
        parts = {"discriminator": model.fine_tunable_discriminator(), "generator": model.generator}
    elif hasattr(model, "masked_lm"):
        parts = {"masked_lm": model.masked_lm}
    else:
        parts = {FINE_TUNED_PART["albert"]: model}
    for name, part in parts.items():
        path = out / f"{name}.keras"
        part.save(path)
        written.append(path)
        try:
            folder = to_huggingface(part, out / "huggingface" / name)
        except UnsupportedArchitectureError as error:
            # e.g. an ELECTRA with shared layers: the .keras file is the model.
            print(f"Not writing a transformers folder for {name}: {error}")
            continue
        write_tokenizer_files(vocabulary, folder, lowercase)
        written.append(folder)
    return written


def pretrain(options: PretrainingOptions, callbacks: list[keras.callbacks.Callback] | None = None) -> dict:
    """Runs (or resumes) a pretraining run; returns a summary dict.

    Example:
        pretrain(PretrainingOptions(out="runs/small", preset="electra-small", total_steps=10_000))
    """
    from electra_keras.data.pretraining_data import pretraining_dataset

    # The strategy first: multi-worker collectives must be set up before
    # TensorFlow creates any tensor.
    strategy = make_strategy(options.strategy, options.tpu)
    chief = is_chief(strategy)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(options.seed)

    pretrained = None
    if options.init is not None:
        from electra_keras.tasks.pretrained import load_pretrained

        # The checkpoint's vocabulary and casing: its embeddings were trained with them.
        pretrained = load_pretrained(options.init, vocabulary=options.vocabulary)
        if pretrained.lowercase != options.lowercase:
            print(f"Casing of {options.init}: lowercase={pretrained.lowercase} (the run's option is ignored)")
        options = dataclasses.replace(options, vocabulary=_vocabulary_file(pretrained.vocabulary, out),
                                      lowercase=pretrained.lowercase)
    if options.vocabulary is None and options.vocabulary_size is not None:
        vocabulary = _learned_vocabulary(options, chief)
    else:
        vocabulary = options.vocabulary_path()
    data_dir, eval_dir = _datasets(options, out, vocabulary, chief)

    with strategy.scope():
        # The policy is read when layers are built; the caller's is restored after.
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(options.precision)
        try:
            model = _build_model(options, vocabulary, pretrained)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        model.optimizer.build(model.trainable_variables)
    flops_per_step = model.training_flops_per_step(options.batch_size, options.sequence_length)
    print(f"Training compute: {flops_per_step / 1e12:.4g} TFLOPs per step, "
          f"{flops_per_step * options.total_steps / 1e15:.4g} PFLOPs for {options.total_steps:,} steps "
          "(analytic matmul count, electra_keras.pretraining.flops)")

    # Every worker saves (the collectives need them all); only the chief's
    # checkpoints are kept in out/checkpoints.
    checkpoint_dir = out / "checkpoints" if chief else out / f".worker-{strategy.cluster_resolver.task_id}"
    counter = StepCounter()
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, trained_steps=counter.variable)
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=options.keep_checkpoints)
    metrics_path = out / "metrics.jsonl"
    start_step = 0
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        start_step = counter.step
        print(f"Resuming from {manager.latest_checkpoint} at step {start_step}: "
              f"skipping the {start_step} batches already trained on")
        if chief:
            truncate_metrics_log(metrics_path, start_step)
    if chief:
        (out / "run.json").write_text(json.dumps(dataclasses.asdict(options), indent=2) + "\n")

    if start_step == 0 and options.prior_init:
        from electra_keras.data.pretraining_data import token_counts

        counts = token_counts(data_dir, model.config.vocab_size, exclude=model.masking.special_token_ids)
        described = model.initialize_output_priors(counts)
        print(f"Output layers start at their priors ({int(counts.sum()):,} tokens counted): "
              + ", ".join(f"{name} {value:.4g}" for name, value in described.items()))

    if start_step >= options.total_steps:
        print(f"The run in {out} already finished its {options.total_steps} steps.")
    else:
        dataset = pretraining_dataset(
            data_dir, batch_size=options.batch_size, sequence_length=options.sequence_length,
            seed=options.seed, skip_batches=start_step,
        )
        # Masking in tf.data keeps random ops out of the (possibly XLA-compiled)
        # train step, and seeding it by batch index makes resumption exact.
        dataset = model.masked_dataset(dataset, seed=options.seed, start_index=start_step)
        validation = None
        if eval_dir is not None:
            held_out = pretraining_dataset(
                eval_dir, batch_size=options.batch_size, sequence_length=options.sequence_length,
                shuffle=False, repeat=True,
            ).take(options.eval_batches)
            # Fixed masks: every evaluation scores the same predictions.
            validation = model.masked_dataset(held_out, seed=options.seed + 1).cache()
        every = options.checkpoint_every
        run_callbacks = [
            counter,
            NonFiniteLossGuard(checkpoint_dir, counter),
            CheckpointEvery(manager, options.total_steps, counter),
            *(callbacks or []),
        ]
        if chief:
            run_callbacks += [
                MetricsLog(metrics_path, options.log_every, options.batch_size, options.sequence_length, counter,
                           flops_per_step),
                keras.callbacks.TensorBoard(log_dir=str(out / "logs"), update_freq=options.log_every),
            ]
        model.fit(
            dataset,
            steps_per_epoch=every,
            epochs=math.ceil(options.total_steps / every),
            initial_epoch=start_step // every,
            callbacks=run_callbacks,
            validation_data=validation,
            shuffle=False,  # the reader shuffles, in an order resumption can reproduce
            verbose=1 if chief and sys.stdout.isatty() else 2 if chief else 0,
        )

    final_step = counter.step
    written = _export(model, out, vocabulary, options.lowercase) if options.export and chief else []
    if not chief:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {
        "steps": final_step,
        "resumed_from": start_step,
        "flops_per_step": flops_per_step,
        "flops": flops_per_step * final_step,
        "checkpoint": manager.latest_checkpoint,
        "written": [str(path) for path in written],
        "last_metrics": _last_record(metrics_path, evaluation=False),
        "last_evaluation": _last_record(metrics_path, evaluation=True),
    }


def restore_checkpoint(model, path: str) -> None:
    """Restores a run's checkpoint into a model built from the run's options.

    The checkpoint holds the model's weights by way of the optimizer (Keras 3
    models reach tf.train.Checkpoint through the optimizer's variable list),
    so the optimizer is built first and restored with the model; every
    variable of both must be found.
    """
    model.optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    checkpoint.restore(path).expect_partial().assert_existing_objects_matched()


def export_checkpoint(run: str | Path, step: int | None = None, out: str | Path | None = None) -> Path:
    """Writes one checkpoint of a run as a run folder of its own, to fine-tune or ship.

    The models are rebuilt from the run's `run.json`, the checkpoint of
    `step` (None: the latest) is restored into them, and `out` (default
    `run/step-N`) gets what a finished run writes (`discriminator.keras`,
    `generator.keras`, `huggingface/`) and a `run.json`, so that
    `TextClassifier.from_pretrained(out)` and `electra-keras finetune --init
    out` take it like a run.

    Example:
        export_checkpoint("runs/small", step=2000)   # -> runs/small/step-2000
    """
    run = Path(run)
    options = PretrainingOptions(**json.loads((run / "run.json").read_text()))
    state = tf.train.get_checkpoint_state(str(run / "checkpoints"))
    kept = {int(path.rsplit("-", 1)[1]): path for path in (state.all_model_checkpoint_paths if state else [])}
    if not kept:
        raise FileNotFoundError(f"{run}: no checkpoints in {run / 'checkpoints'}")
    step = max(kept) if step is None else step
    if step not in kept:
        raise FileNotFoundError(f"{run}: no checkpoint of step {step}; kept: {sorted(kept)}")
    vocabulary = options.vocabulary_path()
    model = _build_model(options, vocabulary)
    restore_checkpoint(model, kept[step])
    out = Path(out) if out is not None else run / f"step-{step}"
    out.mkdir(parents=True, exist_ok=True)
    _export(model, out, vocabulary, options.lowercase)
    recorded = dataclasses.asdict(options)
    # The snapshot names the run's vocabulary file: it learns none of its own.
    recorded.update(out=str(out), total_steps=step, vocabulary=vocabulary, vocabulary_size=None)
    (out / "run.json").write_text(json.dumps(recorded, indent=2) + "\n")
    return out


def _last_record(path: Path, evaluation: bool) -> dict:
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    records = [r for r in records if bool(r.get("evaluation")) == evaluation]
    return records[-1] if records else {}
