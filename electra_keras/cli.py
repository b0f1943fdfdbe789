"""`electra-keras`: thin subcommands over the library.

    electra-keras info [--preset NAME] [--share MODE] [--config FIELD=VALUE ...]
    electra-keras convert SOURCE OUT [--from huggingface|tf1|keras] [--to keras|huggingface]
    electra-keras build-vocab [--corpus PATH ...] --out vocab.txt [--size N] [--type sentencepiece]
    electra-keras prepare-data [--corpus PATH ...] --out DIR [--vocabulary vocab.txt]
    electra-keras pretrain --out runs/NAME [--preset P] [--corpus PATH ...] [--strategy S] ...
    electra-keras finetune --task TASK --init CHECKPOINT --out runs/NAME
    electra-keras evaluate --model runs/NAME --task TASK
    electra-keras predict --model runs/NAME TEXT ...
    electra-keras export --model runs/NAME --out saved_models/NAME [--format tflite --quantize dynamic]
    electra-keras datasets [NAME] [--verify] [--markdown]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def _detect_source(source: Path) -> str:
    if source.suffix == ".keras":
        return "keras"
    if (source / "config.json").is_file():
        return "huggingface"
    if (source / "checkpoint").is_file() or Path(f"{source}.index").is_file():
        return "tf1"
    raise SystemExit(
        f"convert: cannot tell the format of {source}: expected a .keras file, a "
        "transformers folder (with config.json) or a TF1 checkpoint (a folder with a "
        "`checkpoint` file, or a prefix with a .index file); pass --from"
    )


def _load(source: Path, kind: str, args):
    import keras

    import electra_keras  # noqa: F401  (registers our classes for .keras loading)

    if kind == "keras":
        return keras.saving.load_model(source)
    if kind == "huggingface":
        from electra_keras.convert import from_huggingface

        return from_huggingface(source, architecture=args.architecture, strict=not args.no_strict)
    from electra_keras.convert.official_tf1 import from_official_tf1

    return from_official_tf1(str(source), config=args.config, strict=not args.no_strict)


def convert(args) -> int:
    source, out = Path(args.source), Path(args.out)
    source_kind = args.from_format or _detect_source(source)
    target_kind = args.to_format or ("keras" if out.suffix == ".keras" else "huggingface")
    if target_kind == "keras" and out.suffix != ".keras":
        raise SystemExit(f"convert: OUT must end in .keras for --to keras, got {out}")
    model = _load(source, source_kind, args)
    if target_kind == "keras":
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save(out)
    else:
        from electra_keras.convert import to_huggingface

        to_huggingface(model, out)
    print(
        f"converted {source} ({source_kind}) -> {out} ({target_kind}): "
        f"{type(model).__name__}, {model.count_params():,} parameters"
    )
    return 0


def info(args) -> int:
    from electra_keras.config import ModelConfig, describe_presets

    if args.recipes:
        from electra_keras.training.recipes import describe_recipes

        print(describe_recipes())
        return 0
    if args.preset is None:
        print(describe_presets())
        return 0
    overrides = _config_overrides(args.config)
    if args.share:
        overrides["share"] = args.share
    config = ModelConfig.from_preset(args.preset, **overrides)
    from electra_keras.pretraining.sizes import format_sizes, model_sizes

    from electra_keras.config import finetuning_defaults, pretraining_defaults

    print(config.to_json())
    pretraining = ", ".join(f"{name} {value:g}" for name, value in pretraining_defaults(args.preset).items())
    finetuning = ", ".join(f"{name} {value:g}" for name, value in finetuning_defaults(args.preset).items())
    print(f"pretraining defaults (flags override): {pretraining}")
    print(f"fine-tuning defaults (flags override): {finetuning}")
    print(f"{args.preset}, share={config.share} (float32 weights):")
    print(format_sizes(model_sizes(config)))
    return 0


def datasets(args) -> int:
    """The shipped datasets and corpora (electra_keras/data/registry.py): a table, one in full, or a check."""
    from electra_keras.data import catalog

    if args.verify:
        print("\n".join(catalog.verify([args.name] if args.name else None)))
    elif args.name:
        print(catalog.details(args.name))
    else:
        print(catalog.markdown() if args.markdown else catalog.table())
    return 0


def build_vocab(args) -> int:
    if args.type == "sentencepiece":
        from electra_keras.data.sentencepiece import train_sentencepiece

        path = train_sentencepiece(
            args.corpus or None, args.out, vocabulary_size=args.size, lowercase=not args.cased
        )
        print(f"wrote a {args.size}-piece SentencePiece model to {path}")
        return 0
    from electra_keras.data.vocabulary import build_wordpiece_vocabulary, write_vocabulary

    tokens = build_wordpiece_vocabulary(
        args.corpus or None, vocabulary_size=args.size, lowercase=not args.cased
    )
    path = write_vocabulary(tokens, args.out)
    print(f"wrote {len(tokens)} word pieces to {path}")
    return 0


def prepare_data(args) -> int:
    from electra_keras.data import packages
    from electra_keras.data.pretraining_data import prepare_pretraining_data

    stats = prepare_pretraining_data(
        args.corpus or None,
        args.vocabulary or packages.bert_uncased_vocab(),
        args.out,
        sequence_length=args.sequence_length,
        lowercase=not args.cased,
        num_shards=args.shards,
        workers=args.workers,
        seed=args.seed,
    )
    print(stats.summary())
    return 0


def _config_overrides(pairs: list[str]) -> dict:
    """--config hidden_size=64 --config share=all: values parsed as JSON when they can be."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--config {pair!r}: expected FIELD=VALUE, e.g. --config num_layers=4")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


OPTIMIZER_HELP = ("AdamW with bias correction (adamw, as Keras/PyTorch), or the official ELECTRA "
                  "AdamWeightDecayOptimizer without it (official_adamw)")
PRETRAINING_OPTIMIZER_HELP = ("adamw (bias-corrected, as Keras/PyTorch), official_adamw (ELECTRA's "
                              "AdamWeightDecayOptimizer, no bias correction) or lamb (ALBERT's LAMB, rate 0.00176 "
                              "at batch 4096 scaled by sqrt(batch / 4096)) (default: lamb for the ALBERT "
                              "objectives, else adamw)")

# `electra-keras pretrain` flag -> PretrainingOptions field, for the flags
# whose value is taken as given (the others are converted below).
PRETRAIN_FLAGS = {
    "out": "out", "preset": "preset", "init": "init", "objective": "objective", "share": "share", "data": "data",
    "eval_data": "eval_data", "eval_batches": "eval_batches", "vocabulary": "vocabulary",
    "vocabulary_size": "vocabulary_size", "sequence_length": "sequence_length",
    "batch_size": "batch_size", "steps": "total_steps", "learning_rate": "learning_rate",
    "warmup_steps": "warmup_steps", "checkpoint_every": "checkpoint_every",
    "keep_checkpoints": "keep_checkpoints", "log_every": "log_every", "strategy": "strategy",
    "tpu": "tpu", "mixed_precision": "precision", "gradient_accumulation": "gradient_accumulation",
    "masking_rate": "masking_rate", "whole_word_masking": "whole_word_masking", "weight_tying": "weight_tying",
    "rtd_weight": "rtd_weight", "seed": "seed", "optimizer": "optimizer",
}


def pretrain(args) -> int:
    from electra_keras.training.pretrain import PretrainingOptions, pretrain as run
    from electra_keras.training.recipes import recipe

    # Only what was given on the command line: it overrides the recipe's value,
    # and without a recipe PretrainingOptions supplies the rest.
    given = {field: getattr(args, flag) for flag, field in PRETRAIN_FLAGS.items() if getattr(args, flag) is not None}
    if args.corpus:
        given["corpus"] = args.corpus
    if args.eval_corpus:
        given["eval_corpus"] = args.eval_corpus
    if args.cased:
        given["lowercase"] = False
    if args.xla:
        given["xla"] = True
    if args.prior_init:
        given["prior_init"] = True
    if args.config:
        given["config"] = _config_overrides(args.config)
    if args.recipe:
        options, _ = recipe(args.recipe, **given)
    else:
        options = PretrainingOptions(**given)
    summary = run(options)
    print(json.dumps(summary, indent=2))
    return 0


def finetune(args) -> int:
    from electra_keras.training.finetune import FinetuningOptions, finetune as run

    options = FinetuningOptions(
        out=args.out, task=args.task, init=args.init, preset=args.preset, random_init=args.random_init,
        vocabulary=args.vocabulary, lowercase=False if args.cased else None,
        train=args.train, dev=args.dev, test=args.test, text_column=args.text_column,
        text_b_column=args.text_b_column, label_column=args.label_column, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, layer_decay=args.layer_decay,
        sequence_length=args.sequence_length, max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples, seed=args.seed, config=_config_overrides(args.config),
        optimizer=args.optimizer,
        early_stopping=args.early_stopping,
    )
    scores = run(options)
    print(json.dumps(scores, indent=2, default=float))
    return 0


def _load_task_model(path: str):
    import keras

    import electra_keras  # noqa: F401  (registers our classes)

    model_file = Path(path)
    if model_file.is_dir():
        model_file = model_file / "model.keras"
    if not model_file.is_file():
        raise SystemExit(f"--model {path}: no such .keras file (a fine-tuning run folder holds model.keras)")
    return keras.saving.load_model(model_file)


def evaluate(args) -> int:
    from electra_keras.training.finetune import FinetuningOptions, _count, load_task_data, score

    model = _load_task_model(args.model)
    kind = _kind_of(model)
    if bool(args.data) == bool(args.task):
        raise SystemExit("evaluate: pass either --task (shipped data, with --split) or --data FILE")
    options = FinetuningOptions(
        out="-", task=args.task or kind, init="-", train=args.data, text_column=args.text_column,
        text_b_column=args.text_b_column, label_column=args.label_column,
    )
    splits = load_task_data(options)
    examples = splits.train if args.data else getattr(splits, args.split)
    if examples is None:
        raise SystemExit(f"evaluate: the {args.task} data has no {args.split} split")
    scored = {"data": args.data} if args.data else {"task": args.task, "split": args.split}
    scored.update(examples=_count(examples), **score(model, kind, examples))
    print(json.dumps(scored, indent=2, default=float))
    return 0


def _kind_of(model) -> str:
    from electra_keras.tasks.classifier import TextClassifier
    from electra_keras.tasks.token_classifier import TokenClassifier

    if isinstance(model, TokenClassifier):
        return "tagging"
    if isinstance(model, TextClassifier):
        return "regression" if model.regression else "classification"
    return "squad"


def predict(args) -> int:
    """Labels with their probabilities (tab-separated, or --format json: one object per line)."""
    model = _load_task_model(args.model)
    kind = _kind_of(model)
    texts = list(args.texts)
    if args.input:
        texts += Path(args.input).read_text(encoding="utf-8").splitlines()
    if not texts:
        raise SystemExit("predict: give texts as arguments or --input FILE (one per line)")
    as_json = args.format == "json"
    if kind == "tagging":
        from electra_keras.tasks.token_classifier import split_words

        sentences = [split_words(text) for text in texts]
        for words, tags in zip(sentences, model.predict_tags(sentences)):
            print(json.dumps({"words": words, "tags": tags}) if as_json
                  else " ".join(f"{word}/{tag}" for word, tag in zip(words, tags)))
        return 0
    if kind == "squad":
        if len(texts) % 2:
            raise SystemExit("predict: a QA model takes QUESTION CONTEXT pairs")
        for answer in model.answer(texts[0::2], texts[1::2]):
            print(json.dumps(answer) if as_json else f"{answer['text']}\t{answer['score']}")
        return 0
    pair = getattr(model, "pair", False)
    if pair and len(texts) % 2:
        raise SystemExit("predict: a pair model takes TEXT TEXT_B pairs")
    inputs = (texts[0::2], texts[1::2]) if pair else texts
    shown = [f"{a} ||| {b}" for a, b in zip(*inputs)] if pair else texts
    if kind == "regression":
        for text, score in zip(shown, model.predict_labels(inputs)):
            print(json.dumps({"text": text, "score": score}) if as_json else f"{score:.6g}\t{text}")
        return 0
    probabilities = model.predict_probabilities(inputs)
    names = [str(name) for name in (model.label_names or range(probabilities.shape[1]))]
    for text, row in zip(shown, probabilities):
        best = int(row.argmax())
        if as_json:
            print(json.dumps({"text": text, "label": names[best],
                              "probabilities": {name: float(p) for name, p in zip(names, row)}}))
        else:
            print(f"{names[best]}\t{row[best]:.4f}\t{text}")
    return 0


def export(args) -> int:
    """A fine-tuned task model (run folder or .keras) or any pretrained encoder."""
    from electra_keras.export import export_saved_model
    from electra_keras.export.serving import write_models_config
    from electra_keras.export.tflite import CALIBRATED, export_tflite

    source = Path(args.model)
    task_file = source / "model.keras" if source.is_dir() else source
    if task_file.suffix == ".keras" and task_file.is_file() and _is_task_model(task_file):
        model = _load_task_model(str(task_file))
        vocabulary, lowercase = args.vocabulary, None
    else:
        from electra_keras.tasks.pretrained import load_pretrained

        pretrained = load_pretrained(source, vocabulary=args.vocabulary, lowercase=False if args.cased else None)
        model, vocabulary, lowercase = pretrained.encoder, pretrained.vocabulary, pretrained.lowercase
    common = dict(vocabulary=vocabulary, lowercase=lowercase, sequence_length=args.sequence_length)
    if args.format == "saved_model":
        if args.quantize != "none" or args.mediapipe:
            flag = "--quantize" if args.quantize != "none" else "--mediapipe"
            raise SystemExit(f"export: {flag} applies to --format tflite")
        path = export_saved_model(model, args.out, version=args.version, pair=args.pair,
                                  length_bucket=args.length_bucket or None, **common)
        config = write_models_config(Path(args.out).parent)
        print(f"SavedModel: {path} (signatures serving_default, token_ids); TF Serving config: {config}")
        return 0
    out = Path(args.out)
    out = out if out.suffix == ".tflite" else out / "model.tflite"
    representative = None
    if args.quantize in CALIBRATED:
        representative = _representative_texts(args, source)
    path = export_tflite(model, out, quantize=args.quantize, representative_texts=representative,
                         pair=args.pair, raw_text=args.raw_text, mediapipe=args.mediapipe, isolate=True, **common)
    print(f"TFLite ({args.quantize}{', MediaPipe metadata' if args.mediapipe else ''}): {path} "
          f"({path.stat().st_size:,} bytes), with vocab.txt and model.json beside it")
    return 0


def _is_task_model(model_file: Path) -> bool:
    """A .keras file of a task model (its config names one of our task classes)."""
    import zipfile

    with zipfile.ZipFile(model_file) as archive:
        config = json.loads(archive.read("config.json"))
    return config.get("class_name") in ("TextClassifier", "TokenClassifier", "SpanQuestionAnswerer")


def _representative_texts(args, source: Path):
    """--representative FILE (a text per line; pairs TAB-separated), else the run's training data."""
    if args.representative:
        lines = Path(args.representative).read_text(encoding="utf-8").splitlines()
        lines = [line for line in lines if line.strip()]
        if not lines:
            raise SystemExit(f"--representative {args.representative}: no texts in the file")
        if args.pair or "\t" in lines[0]:
            pairs = [line.split("\t", 1) for line in lines]
            bad = [i + 1 for i, pair in enumerate(pairs) if len(pair) != 2]
            if bad:
                raise SystemExit(f"--representative {args.representative}: line {bad[0]} is not TEXT<TAB>TEXT_B")
            return [a for a, _ in pairs], [b for _, b in pairs]
        return lines
    options_file = (source if source.is_dir() else source.parent) / "options.json"
    if not options_file.is_file():
        raise SystemExit(f"export: --quantize {args.quantize} needs --representative FILE (texts of the task), "
                         f"or a fine-tuning run folder with options.json (not found: {options_file})")
    from electra_keras.training.finetune import FinetuningOptions, load_task_data, model_inputs

    options = FinetuningOptions(**json.loads(options_file.read_text()))
    inputs, _ = model_inputs(options.kind, load_task_data(options).train)
    return inputs


def build_parser() -> argparse.ArgumentParser:
    from electra_keras import __version__

    parser = argparse.ArgumentParser(prog="electra-keras", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"electra-keras {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (default: one line, exit status 2)")
    commands = parser.add_subparsers(dest="command", required=True)

    convert_parser = commands.add_parser(
        "convert", help="convert checkpoints between transformers, official TF1 and .keras"
    )
    convert_parser.add_argument("source", help="a transformers folder, a TF1 checkpoint or a .keras file")
    convert_parser.add_argument("out", help="a .keras file or a folder for transformers")
    convert_parser.add_argument("--from", dest="from_format", choices=["huggingface", "tf1", "keras"],
                                help="the source's format (default: detected from SOURCE)")
    convert_parser.add_argument("--to", dest="to_format", choices=["keras", "huggingface"],
                                help="the output's format (default: keras when OUT ends in .keras, else huggingface)")
    convert_parser.add_argument(
        "--architecture", help="transformers class to read a folder as (default: its config.json)"
    )
    convert_parser.add_argument(
        "--config", help="TF1 only: a preset name for the checkpoint (default: inferred from shapes)"
    )
    convert_parser.add_argument(
        "--no-strict", action="store_true", help="log unused checkpoint tensors instead of failing"
    )
    convert_parser.set_defaults(run=convert)

    share_help = "cross-layer sharing: none, all, attention, ffn or groups"
    corpus_help = ("text files, folders or globs (blank line = document boundary), shipped corpora "
                   "(electra-keras datasets), or datasets: hf:NAME_OR_FOLDER[:CONFIG][@SPLIT][#COLUMN], "
                   "tfds:NAME[@SPLIT][#COLUMN] (a row is a document; COLUMN default text); default WikiText-2")

    vocab_parser = commands.add_parser(
        "build-vocab", help="train a WordPiece vocabulary or a SentencePiece model (ALBERT) on a corpus")
    vocab_parser.add_argument("--corpus", nargs="*", help=corpus_help)
    vocab_parser.add_argument("--type", choices=["wordpiece", "sentencepiece"], default="wordpiece",
                              help="wordpiece (BERT/ELECTRA's vocab.txt) or sentencepiece (ALBERT's .model) "
                                   "(default: wordpiece)")
    vocab_parser.add_argument("--out", required=True,
                              help="the vocab.txt (wordpiece) or .model file (sentencepiece) to write")
    vocab_parser.add_argument("--size", type=int, default=30522,
                              help="vocabulary size (BERT: 30522; ALBERT's SentencePiece: 30000) (default: 30522)")
    vocab_parser.add_argument("--cased", action="store_true", help="keep case and accents")
    vocab_parser.set_defaults(run=build_vocab)

    data_parser = commands.add_parser("prepare-data", help="pack a corpus into TFRecord pretraining examples")
    data_parser.add_argument("--corpus", nargs="*", help=corpus_help)
    data_parser.add_argument("--out", required=True, help="folder for the TFRecord shards")
    data_parser.add_argument("--vocabulary", help="vocab.txt (default: BERT uncased)")
    data_parser.add_argument("--sequence-length", type=int, default=128, help="tokens per example (default: 128)")
    data_parser.add_argument("--cased", action="store_true", help="keep case and accents (default: lowercase)")
    data_parser.add_argument("--shards", type=int, help="number of shards (default: sized to the corpus)")
    data_parser.add_argument("--workers", type=int, default=2, help="processes packing examples (default: 2)")
    data_parser.add_argument("--seed", type=int, default=0, help="document order and packing (default: 0)")
    data_parser.set_defaults(run=prepare_data)

    train_parser = commands.add_parser(
        "pretrain", help="pretrain ELECTRA, ALBERT or plain MLM; re-running on the same --out resumes"
    )
    from electra_keras.training.optimizers import ADAMW_VARIANTS, OPTIMIZERS
    from electra_keras.training.pretrain import OBJECTIVES, PretrainingOptions

    defaults = {field.name: field.default for field in dataclasses.fields(PretrainingOptions)}

    def default(field: str) -> str:
        return f"(default: {defaults[field]})"

    def preset_default(field: str) -> str:
        """The help of a flag whose default is the preset's (config.pretraining_defaults)."""
        from electra_keras.config import PRESETS, pretraining_defaults

        values = {name: PRESETS[name]["pretraining"][field] for name in PRESETS if "pretraining" in PRESETS[name]}
        listed = ", ".join(f"{name} {value:g}" for name, value in values.items())
        return f"(default: the preset's: {listed}; other presets {pretraining_defaults(None)[field]:g})"

    train_parser.add_argument("--out", required=True, help="run folder (checkpoints, logs, final models)")
    train_parser.add_argument("--recipe", help="start from a named recipe's options (electra-keras info "
                                               "--recipes lists them); the flags below override it")
    train_parser.add_argument("--preset", help="model preset " + default("preset"))
    train_parser.add_argument("--init", help="continue pretraining from this encoder: a run folder, .keras "
                                             "file, transformers folder, hub id (google/electra-small-"
                                             "discriminator) or official TF1 checkpoint (its vocabulary and "
                                             "casing are used)")
    train_parser.add_argument("--objective", choices=list(OBJECTIVES),
                              help="electra: replaced-token detection; electra-15, replace-mlm, all-tokens-mlm: "
                                   "the ELECTRA paper's ablations (README); mlm: BERT's masked LM; "
                                   "albert: n-gram masked LM + sentence-order prediction " + default("objective"))
    train_parser.add_argument("--share", help=share_help + " (default: the preset's; ALBERT presets: all)")
    train_parser.add_argument("--corpus", nargs="*", help=corpus_help)
    train_parser.add_argument("--data", help="an already prepared TFRecord folder (skips preparation)")
    train_parser.add_argument("--eval-corpus", nargs="*",
                              help="held-out text evaluated at every checkpoint (default with the "
                                   "default corpus: WikiText-2 valid)")
    train_parser.add_argument("--eval-data", help="an already prepared held-out TFRecord folder")
    train_parser.add_argument("--eval-batches", type=int, help="held-out batches " + default("eval_batches"))
    train_parser.add_argument("--vocabulary",
                              help="vocab.txt or SentencePiece .model (default: BERT uncased vocab.txt)")
    train_parser.add_argument("--vocabulary-size", type=int,
                              help="instead of --vocabulary: learn a WordPiece vocabulary of this size "
                                   "from the corpus into OUT/vocab.txt")
    train_parser.add_argument("--cased", action="store_true", help="keep case and accents")
    train_parser.add_argument("--sequence-length", type=int, help=preset_default("sequence_length"))
    train_parser.add_argument("--batch-size", type=int, help="global batch size " + preset_default("batch_size"))
    train_parser.add_argument("--steps", type=int, help="total optimizer steps " + default("total_steps"))
    train_parser.add_argument("--learning-rate", type=float,
                              help="peak " + preset_default("learning_rate"))
    train_parser.add_argument("--warmup-steps", type=int, help="(default: 10,000 or 10%% of the steps)")
    train_parser.add_argument("--checkpoint-every", type=int, help=default("checkpoint_every"))
    train_parser.add_argument("--keep-checkpoints", type=int, help=default("keep_checkpoints"))
    train_parser.add_argument("--log-every", type=int, help=default("log_every"))
    train_parser.add_argument("--strategy", choices=["auto", "one_device", "mirrored", "multi_worker", "tpu"],
                              help=default("strategy"))
    train_parser.add_argument("--tpu", help="TPU name or address for --strategy tpu")
    train_parser.add_argument("--mixed-precision", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                              help=default("precision"))
    train_parser.add_argument("--xla", action="store_true", help="compile the train step with XLA")
    train_parser.add_argument("--gradient-accumulation", type=int, help="batches per optimizer update")
    train_parser.add_argument("--masking-rate", type=float, help=preset_default("masking_rate"))
    train_parser.add_argument("--whole-word-masking", action=argparse.BooleanOptionalAction,
                              help="mask whole words, not word pieces (default: on for the ALBERT objectives, "
                                   "as the official ALBERT data builder; off otherwise, as ELECTRA's)")
    train_parser.add_argument("--prior-init", action="store_true",
                              help="start the output layers at their priors from the data's token "
                                   "counts: the masked LM at the unigram distribution, ELECTRA's "
                                   "discriminator at the share of replaced tokens (the official code "
                                   "starts both biases at 0)")
    train_parser.add_argument("--weight-tying", choices=["embeddings", "none", "gdes", "all"],
                              help="ELECTRA: what generator and discriminator share: the embedding block "
                                   "(embeddings, the paper's), nothing (none), DeBERTaV3's "
                                   "gradient-disentangled embeddings (gdes), or the whole encoder (all; "
                                   "needs --config generator_size=1.0) " + default("weight_tying"))
    train_parser.add_argument("--rtd-weight", type=float,
                              help="ELECTRA: lambda, the weight of the discriminator loss " + default("rtd_weight"))
    train_parser.add_argument("--optimizer", choices=OPTIMIZERS, help=PRETRAINING_OPTIMIZER_HELP)
    train_parser.add_argument("--seed", type=int, help=default("seed"))
    train_parser.add_argument("--config", action="append", metavar="FIELD=VALUE",
                              help="override a ModelConfig field of the preset (repeatable)")
    train_parser.set_defaults(run=pretrain)

    tune_parser = commands.add_parser(
        "finetune", help="fine-tune a pretrained model on a task; writes OUT/model.keras and scores.json"
    )
    tune_parser.add_argument("--task", required=True,
                             help="sentiment | question-type | ner (shipped data), or classification | "
                                  "regression | tagging | squad with --train/--dev/--test files")
    tune_parser.add_argument("--init", help="pretrained model: run folder, .keras, transformers folder, "
                                            "Hugging Face hub id (e.g. google/electra-small-discriminator) "
                                            "or TF1 checkpoint")
    tune_parser.add_argument("--preset", help="instead of --init: this architecture, random weights")
    tune_parser.add_argument("--random-init", action="store_true",
                             help="with --init: its architecture and vocabulary, random weights (the baseline)")
    tune_parser.add_argument("--out", required=True, help="run folder: model.keras, scores.json, options.json")
    tune_parser.add_argument("--train", help="training data for your own task: a file (CSV/TSV/JSONL, CoNLL, "
                                             "SQuAD JSON) or a dataset, hf:NAME_OR_FOLDER[:CONFIG][@SPLIT] "
                                             "(save_to_disk folder or Hub name) or tfds:NAME[@SPLIT] "
                                             "(in $TFDS_DATA_DIR); a dataset's split defaults to train")
    tune_parser.add_argument("--dev", help="dev data, same kinds; a dataset's split defaults to validation "
                                           "(or dev, valid) (default: none; no dev scores)")
    tune_parser.add_argument("--test", help="test data, same kinds; a dataset's split defaults to test "
                                            "(default: none; no test scores)")
    for task_parser in (tune_parser,):
        task_parser.add_argument("--text-column", default="text",
                                 help="CSV/TSV/JSONL or dataset column of the text; tagging datasets: of "
                                      "the word lists (default: text)")
        task_parser.add_argument("--text-b-column", help="second text of pairs")
        task_parser.add_argument("--label-column", default="label",
                                 help="column of the label; tagging datasets: of the tag lists (default: label)")
    tune_parser.add_argument("--vocabulary", help="override the vocab.txt found with --init")
    tune_parser.add_argument("--cased", action="store_true",
                             help="keep case and accents (default: the pretrained model's casing)")
    tune_parser.add_argument("--epochs", type=int, default=3, help="passes over the training data (default: 3)")
    tune_parser.add_argument("--batch-size", type=int, default=32, help="examples per step (default: 32)")
    tune_parser.add_argument("--learning-rate", type=float,
                             help="peak (default: the model's preset's, ELECTRA paper Table 7: Small 3e-4, "
                                  "Base 1e-4, Large 5e-5; other models 1e-4)")
    tune_parser.add_argument("--layer-decay", type=float,
                             help="layer-wise learning-rate decay (default: the model's preset's: 0.9 for "
                                  "ELECTRA-Large, else 0.8)")
    tune_parser.add_argument("--sequence-length", type=int, default=128, help="tokens per example (default: 128)")
    tune_parser.add_argument("--max-train-examples", type=int,
                             help="train on a seeded random subset of this size (default: all)")
    tune_parser.add_argument("--max-eval-examples", type=int,
                             help="validate and score on seeded random subsets of this size of dev and test, "
                                  "for quick checks (default: all)")
    tune_parser.add_argument("--early-stopping", type=int, metavar="EPOCHS",
                             help="stop after this many epochs without a better dev loss (default: train every "
                                  "epoch); the best dev epoch is kept either way")
    tune_parser.add_argument("--optimizer", choices=ADAMW_VARIANTS, default="adamw",
                             help=OPTIMIZER_HELP + " (default: adamw)")
    tune_parser.add_argument("--seed", type=int, default=0, help="initialization, dropout, data order (default: 0)")
    tune_parser.add_argument("--config", action="append", metavar="FIELD=VALUE",
                             help="with --preset: override a ModelConfig field")
    tune_parser.set_defaults(run=finetune)

    evaluate_parser = commands.add_parser("evaluate", help="score a fine-tuned model")
    evaluate_parser.add_argument("--model", required=True, help="a fine-tuning run folder or .keras file")
    evaluate_parser.add_argument("--task", help="shipped data to score on (sentiment, question-type, ner)")
    evaluate_parser.add_argument("--split", default="test", choices=["dev", "test", "train"],
                                 help="which split of --task to score (default: test)")
    evaluate_parser.add_argument("--data", help="or labelled data: a file (CSV/TSV/JSONL, CoNLL, SQuAD JSON) "
                                                "or a dataset, hf:NAME@SPLIT or tfds:NAME@SPLIT")
    evaluate_parser.add_argument("--text-column", default="text", help="column of the text (default: text)")
    evaluate_parser.add_argument("--text-b-column", help="column of the second text of pairs (default: none)")
    evaluate_parser.add_argument("--label-column", default="label", help="column of the label (default: label)")
    evaluate_parser.set_defaults(run=evaluate)

    predict_parser = commands.add_parser("predict", help="run a fine-tuned model on raw text")
    predict_parser.add_argument("--model", required=True, help="a fine-tuning run folder or .keras file")
    predict_parser.add_argument("texts", nargs="*", help="texts (pairs: TEXT TEXT_B ...; QA: QUESTION CONTEXT ...)")
    predict_parser.add_argument("--input", help="a file with one text per line")
    predict_parser.add_argument("--format", choices=["text", "json"], default="text",
                                help="text: LABEL<TAB>PROBABILITY<TAB>TEXT (tagging: word/TAG ...); json: one object "
                                     "per line with every class's probability (default: text)")
    predict_parser.set_defaults(run=predict)

    export_parser = commands.add_parser(
        "export", help="write a SavedModel for TF Serving (OUT/<version>/) or a TFLite model"
    )
    export_parser.add_argument("--model", required=True,
                               help="a fine-tuning run folder or .keras task model; or a pretrained "
                                    "model (run folder, transformers folder, TF1 checkpoint): its encoder")
    export_parser.add_argument("--out", required=True,
                               help="saved_model: the model's folder (versions 1/, 2/, ... go inside); "
                                    "tflite: a folder (model.tflite goes inside) or a .tflite path")
    export_parser.add_argument("--format", choices=["saved_model", "tflite"], default="saved_model",
                               help="TF Serving SavedModel or TFLite (default: saved_model)")
    export_parser.add_argument("--quantize", choices=("none", "dynamic", "float16", "int8", "int16x8"),
                               default="none",
                               help="tflite only; int8 and int16x8 (int16 activations) calibrate on "
                                    "--representative or the run's data (default: none)")
    export_parser.add_argument("--representative", help="int8, int16x8: texts of the task, one per line "
                                                        "(pairs: TEXT<TAB>TEXT_B)")
    export_parser.add_argument("--raw-text", action="store_true",
                               help="tflite, single-text classifiers: the tokenizer inside the model "
                                    "(TF-Text custom ops; LiteRTModel registers them)")
    export_parser.add_argument("--mediapipe", action="store_true",
                               help="tflite, single-text classifiers with an uncased WordPiece vocabulary: "
                                    "MediaPipe metadata (vocabulary, labels, input roles) inside the model, for "
                                    "MediaPipe Tasks' TextClassifier on raw text; its one output is probabilities "
                                    "(needs the mediapipe extra)")
    export_parser.add_argument("--version", type=int, help="saved_model version folder (default: next free)")
    export_parser.add_argument("--length-bucket", type=int, default=16,
                               help="saved_model: pad each raw-text request to its longest sequence rounded up "
                                    "to a multiple of this; 0 pads to the full sequence length (default: 16)")
    export_parser.add_argument("--vocabulary", help="override the vocab.txt")
    export_parser.add_argument("--cased", action="store_true", help="bare encoders: a cased vocabulary")
    export_parser.add_argument("--sequence-length", type=int, help="bare encoders: tokens per input (default 128)")
    export_parser.add_argument("--pair", action="store_true", help="bare encoders: take text pairs")
    export_parser.set_defaults(run=export)

    info_parser = commands.add_parser("info", help="list presets, or describe one")
    info_parser.add_argument("--preset", help="describe this preset (default: list them all)")
    info_parser.add_argument("--recipes", action="store_true",
                             help="list the pretraining recipes (pretrain --recipe NAME)")
    info_parser.add_argument("--share", help=share_help)
    info_parser.add_argument("--config", action="append", metavar="FIELD=VALUE",
                             help="override a config field, e.g. --config num_hidden_groups=2")
    info_parser.set_defaults(run=info)

    datasets_parser = commands.add_parser(
        "datasets", help="list the shipped datasets and corpora (source, license, size, pinned file), "
                         "describe one, or check the installed files' SHA-256s (DATASETS.md)")
    datasets_parser.add_argument("name", nargs="?", help="describe this one in full (default: the table of all)")
    datasets_parser.add_argument("--verify", action="store_true",
                                 help="check the installed files (of NAME, or all) against their pinned SHA-256s")
    datasets_parser.add_argument("--markdown", action="store_true",
                                 help="print the table and every entry in full: the generated part of DATASETS.md")
    datasets_parser.set_defaults(run=datasets)
    return parser


# What a user can fix (a bad file, flag or value, a missing optional library:
# our ImportErrors say what to pip install): one line and exit status 2, as
# argparse reports a bad flag. Anything else is ours: its type, a hint, and
# exit status 1. --debug shows the traceback of either.
USER_ERRORS = (ValueError, OSError, ImportError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SystemExit as stop:  # the commands' `raise SystemExit("what was expected")`
        if args.debug or not isinstance(stop.code, str):
            raise
        return _error(stop.code)
    except Exception as error:
        if args.debug:
            raise
        if isinstance(error, USER_ERRORS):
            return _error(str(error) or type(error).__name__)
        print(f"electra-keras: internal error: {type(error).__name__}: {_one_line(str(error))} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _error(message: str) -> int:
    print(f"electra-keras: error: {_one_line(message)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
