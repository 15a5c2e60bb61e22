"""What the ensemble converters share: their members' outputs, and numpy's arithmetic on them.

An ensemble converts each member with `convert_predictor` (any exportable model, or a Pipeline
ending in one) and reads the outputs it needs from the member's `ModelOutputs`. The combining
arithmetic must be numpy's, operation for operation, because class labels are an arg-max and an
arg-max is decided by the last bit when two classes tie (two members that agree, a vote split
evenly, an isotonic plateau). So the sums here are built in the order numpy adds:

- a Python `sum(...)` or `a += b` over members, and numpy reductions along an outer axis (an
  ensemble's `np.average(probas, axis=0)`): one member after the other, `chain_sum`;
- a reduction along the contiguous last axis (`np.sum(proba, axis=1)`): numpy's pairwise
  summation (eight accumulators from 8 terms on, halves above 128), `numpy_row_sum`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeport.errors import UnsupportedStepError
from pipeport.export.converters._outputs import class_values, classes_are_integers
from pipeport.export.graph import DOUBLE, Col, Graph
from pipeport.export.registry import ModelOutputs, describe

#: numpy's PW_BLOCKSIZE: pairwise summation splits blocks longer than this in two.
_PW_BLOCKSIZE = 128


def convert_member(member: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    """The outputs of one member of an ensemble (a model or a Pipeline ending in one)."""
    from pipeport.export.structure import convert_predictor

    return convert_predictor(member, cols, g, where)


def offers(outputs: ModelOutputs, key: str) -> bool:
    """Does the member offer `key`? (Without building it: `in` on a Mapping would.)"""
    return key in tuple(outputs)


def member_output(outputs: ModelOutputs, key: str, member: Any, where: str, why: str) -> str:
    """outputs[key], or a refusal saying which member lacks it and why the ensemble needs it."""
    if not offers(outputs, key):
        what = {
            "probabilities": "predict_proba",
            "decision": "decision_function",
            "label": "predict",
            "prediction": "predict",
        }[key]
        raise UnsupportedStepError(
            f"Step '{where}' ({describe(member, 80)}): {why} needs its {what}, which pipeport "
            f"does not export for this model yet. Use a member whose {what} pipeport exports "
            "(docs/support.md)"
        )
    return outputs[key]


def final_classes(member: Any) -> np.ndarray:
    """The classes_ of the model at the end of `member` (a model or a Pipeline)."""
    from pipeport.export.structure import final_estimator

    return np.asarray(final_estimator(member).classes_)


def is_encoded(classes: Any, n_classes: int) -> bool:
    """Are these classes the integers 0..n_classes-1, as a member fitted on the ensemble's
    LabelEncoder-transformed target has them?"""
    values = np.asarray(classes)
    return (
        classes_are_integers(values)
        and len(values) == n_classes
        and bool(np.all(values.astype(np.int64) == np.arange(n_classes)))
    )


def one_hot(g: Graph, label: str, targets: Sequence[Any], integers: bool) -> str:
    """[N, K] float64: 1.0 where the member's label (an [N] tensor) equals targets[k].
    `targets` are the values the member's label holds for each of the ensemble's classes:
    int64 (`integers`) or strings, as `_outputs.labels` makes them."""
    table = np.asarray(
        [int(t) for t in targets] if integers else [str(t) for t in targets],
        dtype=np.int64 if integers else object,
    ).reshape(1, -1)
    column = g.op("Unsqueeze", [label, g.const(np.array([1], np.int64), "axis1")], "vote")
    equal = g.op("Equal", [column, g.const(table, "vote_classes")], "vote")
    return g.op("Cast", [equal], "vote", to=DOUBLE)


def label_one_hot(g: Graph, label: str, member_classes: Any, classes: Any) -> str:
    """[N, K]: the member's label (a tensor of its classes_ values) one-hot over `classes`."""
    integers = classes_are_integers(member_classes)
    if integers != classes_are_integers(classes):
        raise UnsupportedStepError(
            "a member's class labels are not of the ensemble's type (integers vs text)"
        )
    return one_hot(g, label, class_values(classes), integers)


def in_columns(g: Graph, matrix: str, positions: Sequence[int], width: int) -> str:
    """[N, width] float64 holding column j of `matrix` at positions[j] and 0.0 elsewhere (a
    member that saw fewer classes: `proba[:, estimator.classes_] += proba_estimator`)."""
    if list(positions) == list(range(width)):
        return matrix
    pads = g.const(np.array([0, 0, 0, 1], np.int64), "pad_one_column")
    padded = g.op("Pad", [matrix, pads, g.const(np.array(0.0), "zero")], "padded")
    zero_column = len(positions)
    take = [positions.index(k) if k in positions else zero_column for k in range(width)]
    return g.op(
        "Gather", [padded, g.const(np.array(take, np.int64), "classes_taken")], "aligned", axis=1
    )


def chain_sum(g: Graph, terms: Sequence[str], hint: str = "sum") -> str:
    """((t0 + t1) + t2) + ...: Python's sum() over members, numpy's `+=` and numpy's
    reductions along an outer axis, in their order."""
    total = terms[0]
    for term in terms[1:]:
        total = g.op("Add", [total, term], hint)
    return total


def column(g: Graph, matrix: str, k: int, hint: str = "column") -> str:
    """[N, 1]: column k of an [N, K] tensor."""
    return g.op(
        "Slice",
        [
            matrix,
            g.const(np.array([k], np.int64), "start"),
            g.const(np.array([k + 1], np.int64), "end"),
            g.const(np.array([1], np.int64), "axis1"),
        ],
        hint,
    )


def _pairwise(g: Graph, cols: list[str]) -> str:
    """numpy's pairwise_sum over the [N, 1] tensors `cols` (one row's contiguous values)."""
    n = len(cols)
    if n < 8:
        return chain_sum(g, cols, "row_sum")
    if n <= _PW_BLOCKSIZE:
        r = list(cols[:8])
        tail = n - n % 8
        for i in range(8, tail, 8):
            r = [g.op("Add", [r[j], cols[i + j]], "row_sum") for j in range(8)]

        def add(a: str, b: str) -> str:
            return str(g.op("Add", [a, b], "row_sum"))

        total = add(add(add(r[0], r[1]), add(r[2], r[3])), add(add(r[4], r[5]), add(r[6], r[7])))
        return chain_sum(g, [total, *cols[tail:]], "row_sum")
    half = n // 2
    half -= half % 8
    return str(g.op("Add", [_pairwise(g, cols[:half]), _pairwise(g, cols[half:])], "row_sum"))


def numpy_row_sum(g: Graph, matrix: str, width: int) -> str:
    """[N, 1]: `np.sum(matrix, axis=1)` of a C-contiguous [N, width] array, in numpy's order."""
    if width == 1:
        return matrix
    return _pairwise(g, [column(g, matrix, k) for k in range(width)])


def weighted_average_scale(weights: Sequence[float], ndim: int, axis: int) -> float:
    """np.average's divisor `scl` for these weights, as numpy sums them for an array of `ndim`
    dimensions averaged along `axis` (its order depends on the shape it broadcasts them to)."""
    shape = [1] * ndim
    shape[axis] = len(weights)
    _, scale = np.average(np.zeros(shape), axis=axis, weights=np.asarray(weights), returned=True)
    return float(np.asarray(scale).ravel()[0])
