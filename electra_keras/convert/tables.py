"""Explicit name tables between our variables and a checkpoint's tensors.

A converter is a list of `Row`s: one of our variables, the tensor name it
corresponds to in a checkpoint format, and how the layouts differ. The rows
for an encoder come from walking it with a `Naming` (a format's templates), so
every format shares one walk and differs only in its names; the tables can be
printed (`describe`) and audited against the reference code.

Loading checks everything before assigning anything: every missing tensor,
every shape mismatch and every unused tensor is reported together, so a
checkpoint is never loaded partially in silence.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterable, Mapping

import keras
import numpy as np


class CheckpointMismatchError(ValueError):
    """A checkpoint disagrees with the model it is loaded into."""


@dataclasses.dataclass(frozen=True)
class Row:
    """One variable of ours and its tensor in a checkpoint.

    Attributes:
        variable: our Keras variable.
        name: the tensor's name in the checkpoint.
        in_axes: for kernels, how many leading axes of our variable are input
            axes (1 for Dense, 1 for attention query/key/value kernels of shape
            (hidden, heads, head_size), 2 for the attention output kernel of
            shape (heads, head_size, hidden)); 0 for anything that is not a
            kernel. Kernels are stored 2-D in checkpoints.
        flat: the checkpoint stores this non-kernel tensor flattened (attention
            biases of shape (heads, head_size)).
    """

    variable: keras.Variable
    name: str
    in_axes: int = 0
    flat: bool = False

    def stored_shape(self, transpose_kernels: bool) -> tuple[int, ...]:
        shape = tuple(self.variable.shape)
        if self.in_axes:
            rows = math.prod(shape[: self.in_axes])
            cols = math.prod(shape[self.in_axes :])
            return (cols, rows) if transpose_kernels else (rows, cols)
        if self.flat:
            return (math.prod(shape),)
        return shape

    def to_ours(self, stored: np.ndarray, transpose_kernels: bool) -> np.ndarray:
        if self.in_axes and transpose_kernels:
            stored = stored.T
        return np.reshape(stored, tuple(self.variable.shape))

    def to_stored(self, transpose_kernels: bool) -> np.ndarray:
        value = keras.ops.convert_to_numpy(self.variable)
        shape = self.stored_shape(transpose_kernels=False)
        value = np.reshape(value, shape)
        if self.in_axes and transpose_kernels:
            value = value.T
        return np.ascontiguousarray(value)


class Naming:
    """Name templates of one checkpoint format, for the encoder walk.

    Subclasses return the checkpoint name of each encoder tensor; `None`
    means the format has no such tensor (the walk then raises).
    """

    def embedding(self, part: str) -> str:
        """part: word, position, segment, norm_gamma, norm_beta."""
        raise NotImplementedError

    def projection(self, part: str) -> str:
        """part: kernel, bias."""
        raise NotImplementedError

    def attention(self, index: int, part: str) -> str:
        """part: {query,key,value,output}_{kernel,bias}, norm_gamma, norm_beta."""
        raise NotImplementedError

    def feedforward(self, index: int, part: str) -> str:
        """part: {intermediate,output}_{kernel,bias}, norm_gamma, norm_beta."""
        raise NotImplementedError

    def pooler(self, part: str) -> str:
        raise NotImplementedError


def dense_rows(dense: keras.layers.Layer, name: Callable[[str], str]) -> list[Row]:
    return [Row(dense.kernel, name("kernel"), in_axes=1), Row(dense.bias, name("bias"))]


def norm_rows(norm: keras.layers.Layer, name: Callable[[str], str]) -> list[Row]:
    return [Row(norm.gamma, name("gamma")), Row(norm.beta, name("beta"))]


def encoder_rows(encoder, naming: Naming, include_embeddings: bool = True) -> list[Row]:
    """Rows for every variable of an `Encoder` under a format's naming."""
    rows: list[Row] = []
    if include_embeddings:
        embeddings = encoder.embeddings
        rows += [
            Row(embeddings.word_embeddings.embeddings, naming.embedding("word")),
            Row(
                embeddings.position_embeddings.position_embeddings,
                naming.embedding("position"),
            ),
            Row(embeddings.segment_embeddings.embeddings, naming.embedding("segment")),
        ]
        rows += norm_rows(embeddings.norm, lambda p: naming.embedding(f"norm_{p}"))
    if encoder.embedding_projection is not None:
        rows += dense_rows(encoder.embedding_projection, naming.projection)
    for index, sublayer in enumerate(encoder.attention_sublayers):
        attention = sublayer.attention
        for part, dense in (
            ("query", attention.query_dense),
            ("key", attention.key_dense),
            ("value", attention.value_dense),
        ):
            rows.append(Row(dense.kernel, naming.attention(index, f"{part}_kernel"), in_axes=1))
            rows.append(Row(dense.bias, naming.attention(index, f"{part}_bias"), flat=True))
        rows.append(
            Row(attention.output_dense.kernel, naming.attention(index, "output_kernel"), in_axes=2)
        )
        rows.append(Row(attention.output_dense.bias, naming.attention(index, "output_bias")))
        rows += norm_rows(sublayer.norm, lambda p, i=index: naming.attention(i, f"norm_{p}"))
    for index, sublayer in enumerate(encoder.feedforward_sublayers):
        rows += dense_rows(
            sublayer.intermediate, lambda p, i=index: naming.feedforward(i, f"intermediate_{p}")
        )
        rows += dense_rows(
            sublayer.output_dense, lambda p, i=index: naming.feedforward(i, f"output_{p}")
        )
        rows += norm_rows(sublayer.norm, lambda p, i=index: naming.feedforward(i, f"norm_{p}"))
    if encoder.pooler is not None:
        rows += dense_rows(encoder.pooler, naming.pooler)
    return rows


def masked_lm_head_rows(head, name: Callable[[str], str]) -> list[Row]:
    """MaskedLMHead: dense, layer norm, and the output bias.

    The output kernel is the (tied) word embedding table, so it has no row.
    """
    return [
        Row(head.dense.kernel, name("dense_kernel"), in_axes=1),
        Row(head.dense.bias, name("dense_bias")),
        Row(head.norm.gamma, name("norm_gamma")),
        Row(head.norm.beta, name("norm_beta")),
        Row(head.bias, name("output_bias")),
    ]


def check_unique(rows: Iterable[Row]) -> None:
    """Each checkpoint name maps to one variable (shared ones appear once)."""
    seen: dict[str, Row] = {}
    for row in rows:
        if row.name in seen and seen[row.name].variable is not row.variable:
            raise AssertionError(f"Two variables map to checkpoint tensor {row.name!r}")
        seen[row.name] = row


def load_rows(
    rows: list[Row],
    tensors: Mapping[str, np.ndarray],
    transpose_kernels: bool,
    source: str,
    ignored: Callable[[str], bool] = lambda name: False,
    strict: bool = True,
) -> list[str]:
    """Assigns every row from `tensors` after checking them all.

    Args:
        rows: the name table.
        tensors: checkpoint name -> array.
        transpose_kernels: the format stores kernels as (out, in).
        source: the checkpoint's path, for error messages.
        ignored: names that are known not to carry weights of ours (buffers,
            tied duplicates already checked by the caller).
        strict: unused tensors are an error (True) or returned (False).

    Returns:
        The names of checkpoint tensors that were not used.
    """
    check_unique(rows)
    problems = []
    for row in rows:
        if row.name not in tensors:
            problems.append(f"missing {row.name} (for {row.variable.path}, shape "
                            f"{row.stored_shape(transpose_kernels)})")
            continue
        expected = row.stored_shape(transpose_kernels)
        actual = tuple(np.shape(tensors[row.name]))
        if actual != expected:
            problems.append(
                f"shape mismatch for {row.name}: checkpoint {actual}, config expects "
                f"{expected} (for {row.variable.path})"
            )
    used = {row.name for row in rows}
    unused = sorted(name for name in tensors if name not in used and not ignored(name))
    if strict and unused:
        problems += [f"unused tensor {name} {tuple(np.shape(tensors[name]))}" for name in unused]
    if problems:
        raise CheckpointMismatchError(
            f"{source} does not match the model ({len(problems)} problem(s); nothing "
            "was loaded):\n  " + "\n  ".join(problems)
        )
    for row in rows:
        value = row.to_ours(np.asarray(tensors[row.name]), transpose_kernels)
        row.variable.assign(value.astype(keras.backend.standardize_dtype(row.variable.dtype)))
    return unused


def collect_rows(rows: list[Row], transpose_kernels: bool) -> dict[str, np.ndarray]:
    """checkpoint name -> array, ready to write."""
    check_unique(rows)
    return {row.name: row.to_stored(transpose_kernels) for row in rows}


def describe(rows: list[Row]) -> str:
    """The table as text: our variable path, shape, checkpoint name."""
    return "\n".join(
        f"{row.variable.path:70s} {str(tuple(row.variable.shape)):18s} {row.name}"
        for row in rows
    )
