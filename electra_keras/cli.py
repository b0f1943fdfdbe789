"""`electra-keras`: thin subcommands over the library.

    electra-keras info [--preset NAME] [--share MODE]
    electra-keras convert SOURCE OUT [--from huggingface|tf1|keras] [--to keras|huggingface]
"""

from __future__ import annotations

import argparse
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
