"""`electra-keras`: thin subcommands over the library.

    electra-keras info [--preset NAME] [--share MODE]
    electra-keras convert SOURCE OUT [--from huggingface|tf1|keras] [--to keras|huggingface]
    electra-keras build-vocab [--corpus PATH ...] --out vocab.txt [--size N]
    electra-keras prepare-data [--corpus PATH ...] --out DIR [--vocabulary vocab.txt]
    electra-keras pretrain --out runs/NAME [--preset P] [--corpus PATH ...] [--strategy S] ...
"""

from __future__ import annotations

import argparse
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

    if args.preset is None:
        print(describe_presets())
        return 0
    overrides = {"share": args.share} if args.share else {}
    config = ModelConfig.from_preset(args.preset, **overrides)
    from electra_keras import ElectraPretrainer, Encoder

    print(config.to_json())
    encoder = Encoder(config)
    print(f"encoder parameters: {encoder.count_params():,}")
    if config.generator_size is not None:
        pretrainer = ElectraPretrainer(config)
        print(f"generator parameters (with shared embeddings): {pretrainer.generator.count_params():,}")
        print(f"discriminator parameters: {pretrainer.discriminator.count_params():,}")
        print(f"pretrainer parameters (embeddings counted once): {pretrainer.count_params():,}")
    return 0


def build_vocab(args) -> int:
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


def pretrain(args) -> int:
    from electra_keras.training.pretrain import PretrainingOptions, pretrain as run

    options = PretrainingOptions(
        out=args.out,
        preset=args.preset,
        objective=args.objective,
        corpus=args.corpus or None,
        data=args.data,
        eval_corpus=args.eval_corpus or None,
        eval_data=args.eval_data,
        eval_batches=args.eval_batches,
        vocabulary=args.vocabulary,
        lowercase=not args.cased,
        sequence_length=args.sequence_length,
        batch_size=args.batch_size,
        total_steps=args.steps,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        log_every=args.log_every,
        strategy=args.strategy,
        tpu=args.tpu,
        precision=args.mixed_precision,
        xla=args.xla,
        gradient_accumulation=args.gradient_accumulation,
        masking_rate=args.masking_rate,
        seed=args.seed,
        config=_config_overrides(args.config),
    )
    summary = run(options)
    print(json.dumps(summary, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="electra-keras", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    convert_parser = commands.add_parser(
        "convert", help="convert checkpoints between transformers, official TF1 and .keras"
    )
    convert_parser.add_argument("source", help="a transformers folder, a TF1 checkpoint or a .keras file")
    convert_parser.add_argument("out", help="a .keras file or a folder for transformers")
    convert_parser.add_argument("--from", dest="from_format", choices=["huggingface", "tf1", "keras"])
    convert_parser.add_argument("--to", dest="to_format", choices=["keras", "huggingface"])
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

    corpus_help = "text files, folders or globs (blank line = document boundary); default WikiText-2"

    vocab_parser = commands.add_parser("build-vocab", help="train a WordPiece vocabulary on a corpus")
    vocab_parser.add_argument("--corpus", nargs="*", help=corpus_help)
    vocab_parser.add_argument("--out", required=True, help="the vocab.txt to write")
    vocab_parser.add_argument("--size", type=int, default=30522, help="vocabulary size")
    vocab_parser.add_argument("--cased", action="store_true", help="keep case and accents")
    vocab_parser.set_defaults(run=build_vocab)

    data_parser = commands.add_parser("prepare-data", help="pack a corpus into TFRecord pretraining examples")
    data_parser.add_argument("--corpus", nargs="*", help=corpus_help)
    data_parser.add_argument("--out", required=True, help="folder for the TFRecord shards")
    data_parser.add_argument("--vocabulary", help="vocab.txt (default: BERT uncased)")
    data_parser.add_argument("--sequence-length", type=int, default=128)
    data_parser.add_argument("--cased", action="store_true")
    data_parser.add_argument("--shards", type=int, help="number of shards (default: sized to the corpus)")
    data_parser.add_argument("--workers", type=int, default=2, help="processes packing examples")
    data_parser.add_argument("--seed", type=int, default=0)
    data_parser.set_defaults(run=prepare_data)

    train_parser = commands.add_parser(
        "pretrain", help="pretrain ELECTRA (or plain MLM); re-running on the same --out resumes"
    )
    train_parser.add_argument("--out", required=True, help="run folder (checkpoints, logs, final models)")
    train_parser.add_argument("--preset", default="electra-small")
    train_parser.add_argument("--objective", default="electra", choices=["electra", "mlm"])
    train_parser.add_argument("--corpus", nargs="*", help=corpus_help)
    train_parser.add_argument("--data", help="an already prepared TFRecord folder (skips preparation)")
    train_parser.add_argument("--eval-corpus", nargs="*",
                              help="held-out text evaluated at every checkpoint (default with the "
                                   "default corpus: WikiText-2 valid)")
    train_parser.add_argument("--eval-data", help="an already prepared held-out TFRecord folder")
    train_parser.add_argument("--eval-batches", type=int, default=20)
    train_parser.add_argument("--vocabulary", help="vocab.txt (default: BERT uncased)")
    train_parser.add_argument("--cased", action="store_true")
    train_parser.add_argument("--sequence-length", type=int, default=128)
    train_parser.add_argument("--batch-size", type=int, default=128, help="global batch size")
    train_parser.add_argument("--steps", type=int, default=1000, help="total optimizer steps")
    train_parser.add_argument("--learning-rate", type=float, help="peak (default: the paper's for the preset)")
    train_parser.add_argument("--warmup-steps", type=int)
    train_parser.add_argument("--checkpoint-every", type=int, default=500)
    train_parser.add_argument("--keep-checkpoints", type=int, default=3)
    train_parser.add_argument("--log-every", type=int, default=50)
    train_parser.add_argument("--strategy", default="auto",
                              choices=["auto", "one_device", "mirrored", "multi_worker", "tpu"])
    train_parser.add_argument("--tpu", help="TPU name or address for --strategy tpu")
    train_parser.add_argument("--mixed-precision", default="float32",
                              choices=["float32", "mixed_bfloat16", "mixed_float16"])
    train_parser.add_argument("--xla", action="store_true", help="compile the train step with XLA")
    train_parser.add_argument("--gradient-accumulation", type=int, help="batches per optimizer update")
    train_parser.add_argument("--masking-rate", type=float, default=0.15)
    train_parser.add_argument("--seed", type=int, default=0)
    train_parser.add_argument("--config", action="append", metavar="FIELD=VALUE",
                              help="override a ModelConfig field of the preset (repeatable)")
    train_parser.set_defaults(run=pretrain)

    info_parser = commands.add_parser("info", help="list presets, or describe one")
    info_parser.add_argument("--preset")
    info_parser.add_argument("--share", choices=["none", "all", "attention", "ffn"])
    info_parser.set_defaults(run=info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
