"""What every classifier converter ends with: class labels from an index, and the outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeport.export.graph import INT64, Graph


def classes_are_integers(classes: Any) -> bool:
    """int64 labels for integer classes (not booleans); strings for everything else."""
    values = np.asarray(classes)
    return values.dtype.kind in "iu" or (
        values.dtype == object
        and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in values)
    )


def class_values(classes: Any) -> list[Any]:
    """The classes as the metadata and the label output hold them: ints, or their str()."""
    if classes_are_integers(classes):
        return [int(c) for c in classes]
    return [str(c) for c in np.asarray(classes).tolist()]


def labels(g: Graph, classes: Any, index: str) -> str:
    """classes[index] for an int64 [N] index."""
    values = class_values(classes)
    table = (
        g.const(np.asarray(values, dtype=np.int64), "classes")
        if classes_are_integers(classes)
        else g.const(np.asarray(values, dtype=object), "classes")
    )
    return g.op("Gather", [table, index], "label", axis=0)


def argmax_labels(g: Graph, classes: Any, scores: str) -> str:
    """classes[argmax(scores, axis=1)]: numpy's rule, the first maximum wins."""
    index = g.op("ArgMax", [scores], "argmax", axis=1, keepdims=0)
    return labels(g, classes, index)


def threshold_labels(g: Graph, classes: Any, score: str, threshold: float) -> str:
    """classes[score > threshold] for a [N, 1] score (scikit-learn's binary decision)."""
    above = g.op("Greater", [score, g.const(np.array([[threshold]]), "threshold")], "above")
    index = g.op("Cast", [above], "label_index", to=INT64)
    flat = g.op("Reshape", [index, g.const(np.array([-1], np.int64), "flat")], "label_index")
    return labels(g, classes, flat)


def binary_probabilities(g: Graph, p1: str) -> str:
    """[1 - p1, p1], as scikit-learn stacks them."""
    p0 = g.op("Sub", [g.const(np.array([[1.0]]), "one"), p1], "p0")
    return g.op("Concat", [p0, p1], "probabilities", axis=1)


def outputs(label: str, probabilities: str) -> dict[str, str]:
    return {"label": label, "probabilities": probabilities}
