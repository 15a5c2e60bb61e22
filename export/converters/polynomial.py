"""PolynomialFeatures: the products built in the order scikit-learn's dense transform builds them.

scikit-learn does not multiply each combination's columns afresh: degree-d columns are the
degree-(d-1) block, from the first term whose lowest feature is f, multiplied by column f
(`np.multiply(XP[:, start:end], X[:, f:f+1])`), so x0*x1*x2 is (x2 * x1) * x0 rounded twice, in
that order. The graph replays the same loop with the same start and end indices, one Mul per
(degree, feature) block, so every product is rounded exactly as in scikit-learn; with a
(min, max) degree, the lower degrees are computed and then cut away, as scikit-learn does. The
degree-1 columns are the input columns themselves. scikit-learn raises on a missing value, so
the contract refuses one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.preprocessing import PolynomialFeatures

from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def _slice(g: Graph, X: str, start: int, end: int) -> str:
    return str(
        g.op(
            "Slice",
            [
                X,
                g.const(np.array([start], np.int64), "start"),
                g.const(np.array([end], np.int64), "end"),
                g.const(np.array([1], np.int64), "axis1"),
            ],
            "terms",
        )
    )


def convert_polynomial(
    step: PolynomialFeatures, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    names = [str(n) for n in step.get_feature_names_out()]
    n = len(cols)
    X = g.matrix(cols, where, step)
    features = [_slice(g, X, f, f + 1) for f in range(n)]
    full: list[Col] = []  # XP's columns, as scikit-learn lays them out before any cut
    if step.include_bias:
        ones = g.op("Expand", [g.const(np.ones((1, 1)), "one"), g.op("Shape", [features[0]])])
        full.extend(g.block(ones, ["1"]))
    if step._max_degree > 0:
        full.extend(cols)
        current = len(full)
        index = list(range(current - n, current))
        index.append(current)
        previous, previous_start = X, current - n  # the degree-(d-1) block and where it starts
        for _ in range(2, step._max_degree + 1):
            new_index: list[int] = []
            end = index[-1]
            block_start = current
            blocks: list[str] = []
            for f in range(n):
                start = index[f]
                new_index.append(current)
                if step.interaction_only:
                    start += index[f + 1] - index[f]
                following = current + end - start
                if following <= current:
                    break
                terms = _slice(g, previous, start - previous_start, end - previous_start)
                blocks.append(g.op("Mul", [terms, features[f]], "products"))
                current = following
            new_index.append(current)
            index = new_index
            if not blocks:
                break
            previous = blocks[0] if len(blocks) == 1 else g.op("Concat", blocks, "degree", axis=1)
            previous_start = block_start
            full.extend(g.block(previous, [f"d{i}" for i in range(current - block_start)]))
    if len(full) != step._n_out_full:
        raise AssertionError(f"{where}: built {len(full)} columns, expected {step._n_out_full}")
    kept = full
    if step._min_degree > 1:
        n_out = step.n_output_features_
        if step.include_bias:
            kept = [full[0], *full[len(full) - n_out + 1 :]]
        else:
            kept = full[len(full) - n_out :]
    if len(kept) != len(names):
        raise AssertionError(f"{where}: {len(kept)} columns for {len(names)} names")
    inputs = {id(c) for c in cols}  # degree-1 columns stay the input columns (and their lineage)
    return [
        col if id(col) in inputs else replace(col, name=name)
        for col, name in zip(kept, names, strict=True)
    ]


register(
    Converter(
        classes=(PolynomialFeatures,),
        role="transformer",
        convert=convert_polynomial,
        family="transforms",
        accepts="degree (an int or a (min, max) tuple), interaction_only, include_bias, order",
        exactness=(
            "each product computed as scikit-learn's dense transform computes it (previous "
            "degree's block times one column, in its loop order): the same float64 roundings"
        ),
    )
)
