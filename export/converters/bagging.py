"""BaggingClassifier and BaggingRegressor: each member on its own columns, averaged as
scikit-learn's `_parallel_predict_proba` / `_parallel_predict_regression` add them.

Member i reads the bagging step's columns `estimators_features_[i]` (a subset, repeated columns
included when bootstrap_features=True); max_samples and bootstrap only shaped the fit. Members are
fitted on `np.unique(y, return_inverse=True)`'s codes, so a member's classes are codes 0..K-1 (a
member whose bootstrap sample missed a class has fewer, and its columns go to those classes).

- predict_proba: per job (scikit-learn splits the members into `n_jobs` runs,
  `_partition_estimators`) `proba = 0; proba += member's probabilities`, or, for a member
  without predict_proba, `proba[i, predicted class] += 1` (a vote); the jobs' sums are added and
  divided by n_estimators. The label is classes_[argmax], the first maximum.
- decision_function (when the members have one): the same sums of their decision functions.
- BaggingRegressor: the members' predictions added per job, then divided by n_estimators.

The sums follow scikit-learn's order, members within a job and then jobs, as this machine's
`n_jobs` splits them (a different core count only changes the last bit of a sum).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.ensemble import BaggingClassifier, BaggingRegressor
from sklearn.ensemble._base import _partition_estimators

from pipeport.export.converters._members import (
    chain_sum,
    convert_member,
    final_classes,
    in_columns,
    member_output,
    offers,
    one_hot,
)
from pipeport.export.converters._outputs import argmax_labels
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _members(model: Any, cols: list[Col], g: Graph, where: str) -> list[tuple[Any, str, Any]]:
    """(fitted member, its path, its outputs), each member on its own columns."""
    from pipeport.export.structure import join

    out = []
    for i, (est, features) in enumerate(
        zip(model.estimators_, model.estimators_features_, strict=True)
    ):
        path = join(where, f"estimators_[{i}]")
        out.append((est, path, convert_member(est, [cols[int(f)] for f in features], g, path)))
    return out


def _jobs_sum(model: Any, g: Graph, terms: list[str]) -> str:
    """sum(all_jobs) where each job sums its members' terms: scikit-learn's order."""
    _, _, starts = _partition_estimators(model.n_estimators, model.n_jobs)
    jobs = [
        chain_sum(g, terms[starts[i] : starts[i + 1]], "bag_sum")
        for i in range(len(starts) - 1)
        if starts[i + 1] > starts[i]
    ]
    return chain_sum(g, jobs, "bag_sum")


def _mean(model: Any, g: Graph, terms: list[str]) -> str:
    total = _jobs_sum(model, g, terms)
    n = g.const(np.array(float(model.n_estimators)), "n_estimators")
    return g.op("Div", [total, n], "bag_mean")


def convert_bagging_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    members = _members(model, cols, g, where)
    n_classes = int(model.n_classes_)

    def term(est: Any, path: str, outputs: ModelOutputs) -> str:
        classes = [int(c) for c in final_classes(est)]
        if hasattr(est, "predict_proba"):
            proba = member_output(outputs, "probabilities", est, path, "bagging")
            return in_columns(g, proba, classes, n_classes)
        label = member_output(outputs, "label", est, path, "a bagging vote")
        return one_hot(g, label, list(range(n_classes)), integers=True)

    built = ModelOutputs(
        probabilities=lambda: _mean(model, g, [term(*member) for member in members])
    )
    outputs: dict[str, str | Callable[[], str]] = {
        "label": lambda: argmax_labels(g, model.classes_, built["probabilities"]),
        "probabilities": lambda: built["probabilities"],
    }
    if hasattr(model, "decision_function") and all(offers(out, "decision") for *_, out in members):
        outputs["decision"] = lambda: _mean(model, g, [out["decision"] for *_, out in members])
    return ModelOutputs(**outputs)


def convert_bagging_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    members = _members(model, cols, g, where)

    def prediction() -> str:
        predictions = [
            member_output(out, "prediction", est, path, "bagging") for est, path, out in members
        ]
        return _mean(model, g, predictions)

    return ModelOutputs(prediction=prediction)


def _check(model: Any) -> str | None:
    if len(model.estimators_) != model.n_estimators:
        return (
            f"it holds {len(model.estimators_)} estimators but n_estimators is "
            f"{model.n_estimators} (set after fitting?); refit it"
        )
    if hasattr(model, "classes_"):
        if np.ndim(model.classes_) != 1:
            return "it is a multi-output classifier; pipeport exports one label per row"
        for est in model.estimators_:
            classes = final_classes(est)
            if not (
                np.asarray(classes).dtype.kind in "iu"
                and np.all((classes >= 0) & (classes < model.n_classes_))
            ):
                return "a member's classes are not the bagging classifier's class codes"
    return None


register(
    Converter(
        classes=(BaggingClassifier,),
        role="classifier",
        convert=convert_bagging_classifier,
        check=_check,
        family="ensembles",
        accepts="any exportable classifier or Pipeline as the estimator (members without "
        "predict_proba vote), max_features / estimators_features_ subsets, bootstrap_features "
        "(repeated columns), max_samples and bootstrap (fit only), members that missed a class",
        exactness="the members' graphs on their columns, their probabilities (or votes) added "
        "per job and then over jobs as scikit-learn adds them, / n_estimators; first maximum",
    )
)
register(
    Converter(
        classes=(BaggingRegressor,),
        role="regressor",
        convert=convert_bagging_regressor,
        check=_check,
        family="ensembles",
        accepts="any exportable regressor or Pipeline as the estimator, max_features subsets, "
        "bootstrap_features, max_samples and bootstrap (fit only)",
        exactness="the members' graphs on their columns, predictions added as scikit-learn "
        "adds them, / n_estimators",
    )
)
