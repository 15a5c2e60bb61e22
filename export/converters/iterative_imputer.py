"""IterativeImputer with linear estimators and sample_posterior=False, as its transform runs.

`IterativeImputer.transform` (sklearn/impute/_iterative.py) fills every missing value with its
`initial_imputer_` (a fitted SimpleImputer), then replays `imputation_sequence_`: each
(feat_idx, neighbor_feat_idx, estimator) predicts feature feat_idx from the current values of
its neighbour features and, clipped to [min_value, max_value], replaces it in the rows where
feat_idx was missing. With a linear estimator (BayesianRidge, the default, or any linear
regressor pipeport exports) a prediction is `X[:, neighbors] @ coef_ + intercept_`, so the graph
is the initial imputation (pipeport's SimpleImputer converter) followed by one MatMul + Add +
Clip + Where per entry of the sequence, in order. MatMul sums in its own order, a few ulps from
numpy's; the sequence carries those ulps on, which the gate measures.

One batch effect of scikit-learn is not reproduced: when every value of every row it is given is
missing (e.g. a single row with all features missing), scikit-learn returns the initial
imputation without the sequence; the graph, working row by row, applies the sequence as
scikit-learn does for that row inside a larger batch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from pipeport.contract import is_missing
from pipeport.export.converters.imputers import convert_simple_imputer, missing_indicators
from pipeport.export.converters.linear import LINEAR_REGRESSORS
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def _one_column(g: Graph, X: str, j: int) -> str:
    return str(
        g.op(
            "Slice",
            [
                X,
                g.const(np.array([j], np.int64), "start"),
                g.const(np.array([j + 1], np.int64), "end"),
                g.const(np.array([1], np.int64), "axis1"),
            ],
            "col",
        )
    )


def convert_iterative_imputer(
    step: IterativeImputer, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    initial = convert_simple_imputer(step.initial_imputer_, cols, g, f"{where}__initial_imputer")
    empty = np.asarray(step._is_empty_feature, dtype=bool)
    kept = [j for j in range(len(cols)) if step.keep_empty_features or not empty[j]]
    if len(initial) != len(kept):
        raise AssertionError(f"{where}: the initial imputer gives {len(initial)} columns")
    values = [g.column(c, where, step) for c in initial]
    if step.n_iter_ > 0:
        X = g.matrix([cols[j] for j in kept], where, step)
        missing = g.op("IsNaN", [X], "is_missing")
        # columns scikit-learn keeps although empty in training are never imputed again
        is_missing = [None if empty[j] else _one_column(g, missing, i) for i, j in enumerate(kept)]
        for triplet in step.imputation_sequence_:
            feature = int(triplet.feat_idx)
            mask = is_missing[feature]
            if mask is None:
                continue
            neighbours = [int(i) for i in np.asarray(triplet.neighbor_feat_idx).tolist()]
            pieces = [values[i] for i in neighbours]
            inputs = pieces[0] if len(pieces) == 1 else g.op("Concat", pieces, "neighbours", axis=1)
            estimator = triplet.estimator
            coef = np.asarray(estimator.coef_, np.float64).reshape(-1, 1)
            predicted = g.op("MatMul", [inputs, g.const(coef, "coef")], "predicted")
            predicted = g.op(
                "Add",
                [predicted, g.const(np.array(float(estimator.intercept_)), "intercept")],
                "predicted",
            )
            low, high = float(step._min_value[feature]), float(step._max_value[feature])
            if low != -np.inf or high != np.inf:
                predicted = g.op(
                    "Clip",
                    [predicted, g.const(np.array(low), "low"), g.const(np.array(high), "high")],
                    "clipped",
                )
            values[feature] = g.op("Where", [mask, predicted, values[feature]], "imputed")
    out: list[Col] = []
    for col, value in zip(initial, values, strict=True):
        (block,) = g.block(value, [col.name], raw=[col.raw], affine=[col.affine])
        out.append(replace(block, missing_is_empty=col.missing_is_empty))
    if step.add_indicator:
        out.extend(missing_indicators(step.indicator_, cols, g, f"{where}__indicator", np.nan))
    return out


def _check(step: IterativeImputer) -> str | None:
    if not is_missing(step.missing_values) or step.missing_values is None:
        return (
            f"missing_values={step.missing_values!r}: pipeport exports IterativeImputer with "
            "missing_values=np.nan (a missing raw value); replace the marker with NaN before "
            "the pipeline"
        )
    if step.sample_posterior:
        return (
            "sample_posterior=True draws each imputed value at random (a truncated normal "
            "sample), so no graph can give scikit-learn's values; use sample_posterior=False"
        )
    for triplet in getattr(step, "imputation_sequence_", []):
        estimator = triplet.estimator
        if type(estimator) not in LINEAR_REGRESSORS:
            return (
                f"its estimator is a {type(estimator).__name__}; pipeport exports "
                "IterativeImputer with a linear estimator (BayesianRidge, the default, Ridge, "
                "LinearRegression, Lasso, ElasticNet, ...), whose prediction is "
                "X @ coef_ + intercept_"
            )
        if np.asarray(estimator.coef_).ndim != 1:
            return f"its {type(estimator).__name__} predicts several targets"
    return None


def _accepted_estimators() -> str:
    return ", ".join(sorted(c.__name__ for c in LINEAR_REGRESSORS))


register(
    Converter(
        classes=(IterativeImputer,),
        role="transformer",
        convert=convert_iterative_imputer,
        check=_check,
        family="imputers",
        accepts=(
            "sample_posterior=False with the default BayesianRidge or another linear estimator "
            f"({_accepted_estimators()}); initial_strategy mean, median, most_frequent, "
            "constant; any max_iter, n_nearest_features, imputation_order, skip_complete, "
            "min_value/max_value, add_indicator, keep_empty_features; refused: "
            "sample_posterior=True (random draws), a non-linear estimator"
        ),
        exactness=(
            "the initial imputation, then imputation_sequence_ replayed in order: "
            "X[:, neighbor_feat_idx] @ coef_ + intercept_ (float64 MatMul, a few ulps from "
            "numpy), clipped to min_value/max_value, written where the feature was missing"
        ),
    )
)
