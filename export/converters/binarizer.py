"""Binarizer: 1.0 where x > threshold, else 0.0, compared in float64 as scikit-learn compares.

`binarize` computes `X > threshold` in floating point and writes 1 and 0, so -0.0 and values
equal to the threshold give 0. scikit-learn raises on a missing value, so the contract refuses
one and the graph never sees NaN.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import Binarizer

from pipeport.export.graph import DOUBLE, Col, Graph
from pipeport.export.registry import Converter, register


def convert_binarizer(step: Binarizer, cols: list[Col], g: Graph, where: str) -> list[Col]:
    X = g.matrix(cols, where, step)
    above = g.op("Greater", [X, g.const(np.array(float(step.threshold)), "threshold")], "above")
    return g.block(g.op("Cast", [above], "binarized", to=DOUBLE), [c.name for c in cols])


register(
    Converter(
        classes=(Binarizer,),
        role="transformer",
        convert=convert_binarizer,
        family="transforms",
        accepts="threshold (any number)",
        exactness="x > threshold in float64, as 1.0 / 0.0 (exact)",
    )
)
