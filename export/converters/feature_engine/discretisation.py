"""feature-engine's discretisers: EqualWidthDiscretiser, EqualFrequencyDiscretiser,
GeometricWidthDiscretiser and ArbitraryDiscretiser.

All four sort each variable with `pd.cut(x, binner_dict_[v], labels=False, include_lowest=True)`
(right-closed intervals): the bin is the number of edges strictly below x, minus one, x equal to
the first edge falls in the first bin, and a value outside the edges is NaN. The graph counts the
same thing (a comparison per edge, a sum: exact). The fitted discretisers open their outer edges
to -inf and inf; ArbitraryDiscretiser's edges are the user's, so a value outside them is NaN
(`errors='ignore'`) or an error (`errors='raise'`): the edges are noted as the raw column's valid
range, kept where the pipeline does raise outside them.

`return_object=True` gives the same numbers as objects (the graph keeps them numbers);
`return_boundaries=True` gives the interval as text, `"(10.5, 20.0]"`: those labels, and the text
of an out-of-range value, are read from the fitted discretiser itself (probed), then looked up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from feature_engine.discretisation import (
    ArbitraryDiscretiser,
    EqualFrequencyDiscretiser,
    EqualWidthDiscretiser,
    GeometricWidthDiscretiser,
)
from onnx import numpy_helper

from pipeport.contract import is_missing
from pipeport.errors import UnsupportedStepError
from pipeport.export.converters.feature_engine._frame import Frame, probe
from pipeport.export.graph import DOUBLE, INT64, ML_DOMAIN, STRING, Col, Graph
from pipeport.export.registry import Converter, register


def _edges(step: Any, variable: Any) -> np.ndarray:
    return np.asarray(step.binner_dict_[variable], np.float64)


def bin_ids(g: Graph, x: str, edges: np.ndarray) -> str:
    """[N, 1] int64: pd.cut's ids, `edges.searchsorted(x, side='left')` with x == edges[0] moved
    to 1 (include_lowest): 0 and len(edges) mean outside."""
    below = g.op("Less", [g.const(edges.reshape(1, -1), "bin_edges"), x], "edge_below")
    ids = g.op(
        "ReduceSum",
        [g.op("Cast", [below], "edge_below", to=INT64), g.const(np.array([1], np.int64), "axis1")],
        "bin_id",
        keepdims=1,
    )
    lowest = g.op("Equal", [x, g.const(np.array(edges[0]), "first_edge")], "at_first_edge")
    return str(g.op("Where", [lowest, g.const(np.array(1, np.int64), "one_id"), ids], "bin_id"))


def _bin_numbers(g: Graph, ids: str, n_edges: int) -> str:
    """ids - 1 as float64, NaN outside the edges (and for NaN)."""
    outside = g.op(
        "Or",
        [
            g.op("Equal", [ids, g.const(np.array(0, np.int64), "zero_id")], "below_edges"),
            g.op("Equal", [ids, g.const(np.array(n_edges, np.int64), "past_id")], "above_edges"),
        ],
        "outside",
    )
    number = g.op("Cast", [g.op("Sub", [ids, g.const(np.array(1, np.int64), "one_id")])], to=DOUBLE)
    return str(g.op("Where", [outside, g.const(np.array(np.nan), "nan"), number], "bin"))


def _representatives(edges: np.ndarray) -> list[float]:
    """One value inside each interval (edges[i], edges[i + 1]] (the first closed)."""
    out = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        if np.isfinite(high):
            out.append(float(high))
        elif np.isfinite(low):
            out.append(float(np.nextafter(low, np.inf)))
        else:
            out.append(0.0)
    return out


def _labels(step: Any, where: str) -> dict[Any, tuple[list[str], str]]:
    """return_boundaries: per variable, the text of each bin and of an out-of-range value (as
    transform writes them)."""
    reps = {v: _representatives(_edges(step, v)) for v in step.variables_}
    out = probe(step, reps, {})
    if isinstance(out, Exception):
        raise UnsupportedStepError(
            f"Step '{where}' ({type(step).__name__}) fails on a value inside each of its bins: "
            f"{out}"
        )
    labels: dict[Any, tuple[list[str], str]] = {}
    for v in step.variables_:
        texts = [str(t) for t in out[v].tolist()[: len(reps[v])]]
        edges = _edges(step, v)
        outside_text = ""
        if np.isfinite(edges[0]):
            low = float(edges[0]) - max(1.0, abs(float(edges[0])))
            others = {u: [reps[u][0]] for u in step.variables_ if u != v}
            found = probe(step, {**others, v: [low]}, {})
            if not isinstance(found, Exception):
                value = found[v].tolist()[0]
                outside_text = "" if is_missing(value) else str(value)
        labels[v] = (texts, outside_text)
    return labels


def convert_discretiser(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    labels = _labels(step, where) if step.return_boundaries else {}
    for v in step.variables_:
        edges = _edges(step, v)
        if np.isfinite(edges[0]):
            g.note_domain(frame[v], "greater_or_equal", float(edges[0]), where, "bins it")
        if np.isfinite(edges[-1]):
            g.note_domain(frame[v], "less_or_equal", float(edges[-1]), where, "bins it")
        x = frame.numbers([v])
        ids = bin_ids(g, x, edges)
        if not step.return_boundaries:
            frame.put([v], _bin_numbers(g, ids, len(edges)))
            continue
        texts, outside_text = labels[v]
        text = g.op(
            "LabelEncoder",
            [ids],
            "interval",
            domain=ML_DOMAIN,
            keys_tensor=numpy_helper.from_array(np.arange(1, len(edges), dtype=np.int64), "k"),
            values_strings=texts,
            default_string=outside_text,
        )
        frame.put([v], text, STRING)
    return frame.result()


def _check(step: Any) -> str | None:
    if not hasattr(step, "binner_dict_"):
        return "it is not fitted"
    for v in step.variables_:
        edges = _edges(step, v)
        if len(edges) < 2 or np.any(np.diff(edges) <= 0):
            return f"its edges for {v!r} are not increasing ({edges.tolist()})"
    return None


register(
    Converter(
        classes=(
            EqualWidthDiscretiser,
            EqualFrequencyDiscretiser,
            GeometricWidthDiscretiser,
            ArbitraryDiscretiser,
        ),
        role="transformer",
        convert=convert_discretiser,
        check=_check,
        family="feature-engine discretisation",
        accepts=(
            "bins / q / binning_dict; return_object; return_boundaries (with precision: the "
            "interval text as feature-engine writes it); ArbitraryDiscretiser errors 'ignore' "
            "(NaN outside the edges) and 'raise' (refused in every runtime where the pipeline "
            "raises); variables"
        ),
        exactness=(
            "pd.cut(labels=False, include_lowest=True) as a count of the edges below x: "
            "comparisons only, exact; interval labels probed from the fitted discretiser"
        ),
    )
)
