"""VotingClassifier (soft and hard) and VotingRegressor, weights included, as scikit-learn votes.

Each member is converted on the voting step's own columns (any exportable model or Pipeline).
VotingClassifier fits its members on `le_.transform(y)`, so a member's classes are 0..K-1 and
its label *is* the index of the ensemble's class.

- soft: `np.average(probas, axis=0, weights)`: the members' probabilities (times their weights)
  added one member after the other, divided by the number of members (or by numpy's sum of the
  weights); label = classes_[argmax], the first maximum.
- hard: `argmax(np.bincount(labels, weights))` per row: each member adds its weight (1 without
  weights) to the class it predicts, in member order; the first maximum wins, so a tied vote goes
  to the class that comes first in classes_. With a negative weight a class no member voted for
  can beat the voted ones; bincount only counts up to the largest label voted for, so the graph
  masks the classes beyond it. No probabilities: scikit-learn has no predict_proba here, and the
  file exposes the label alone.
- VotingRegressor: `np.average(predictions, axis=1, weights)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import VotingClassifier, VotingRegressor

from pipeport.export.converters._members import (
    chain_sum,
    convert_member,
    final_classes,
    is_encoded,
    member_output,
    one_hot,
    weighted_average_scale,
)
from pipeport.export.converters._outputs import argmax_labels
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _members(model: Any, cols: list[Col], g: Graph, where: str) -> list[tuple[Any, str, Any]]:
    """(fitted member, its path, its outputs) for every member that was not dropped."""
    from pipeport.export.structure import join

    names = [name for name, est in model.estimators if not _dropped(est)]
    return [
        (est, join(where, name), convert_member(est, cols, g, join(where, name)))
        for name, est in zip(names, model.estimators_, strict=True)
    ]


def _dropped(est: Any) -> bool:
    return isinstance(est, str) and est == "drop"


def _weights(model: Any) -> list[float] | None:
    weights = model._weights_not_none
    return None if weights is None else [float(w) for w in weights]


def _average(g: Graph, terms: list[str], weights: list[float] | None, ndim: int, axis: int) -> str:
    """np.average(stacked terms, axis, weights): terms (times weights) added in member order,
    divided by their count or by numpy's own sum of the weights."""
    if weights is None:
        total = chain_sum(g, terms, "vote_sum")
        return g.op("Div", [total, g.const(np.array(float(len(terms))), "n_members")], "average")
    weighted = [
        g.op("Mul", [t, g.const(np.array(w), "member_weight")], "weighted")
        for t, w in zip(terms, weights, strict=True)
    ]
    total = chain_sum(g, weighted, "vote_sum")
    scale = weighted_average_scale(weights, ndim, axis)
    return g.op("Div", [total, g.const(np.array(scale), "weight_sum")], "average")


def convert_voting_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    members = _members(model, cols, g, where)
    weights = _weights(model)
    n_classes = len(model.classes_)
    why = f"a {model.voting} vote"
    if model.voting == "soft":

        def probabilities() -> str:
            probas = [
                member_output(out, "probabilities", est, path, why) for est, path, out in members
            ]
            return _average(g, probas, weights, ndim=3, axis=0)

        built = ModelOutputs(probabilities=probabilities)
        return ModelOutputs(
            label=lambda: argmax_labels(g, model.classes_, built["probabilities"]),
            probabilities=lambda: built["probabilities"],
        )

    def label() -> str:
        votes = []
        for i, (est, path, out) in enumerate(members):
            index = member_output(out, "label", est, path, why)
            vote = one_hot(g, index, list(range(n_classes)), integers=True)
            if weights is not None:
                vote = g.op("Mul", [vote, g.const(np.array(weights[i]), "member_weight")], "vote")
            votes.append(vote)
        counts = chain_sum(g, votes, "votes")
        if weights is not None and min(weights) < 0:
            counts = _bincount_length(g, counts, [out["label"] for _, _, out in members], n_classes)
        return argmax_labels(g, model.classes_, counts)

    return ModelOutputs(label=label)


def _bincount_length(g: Graph, counts: str, labels: list[str], n_classes: int) -> str:
    """-inf for the classes beyond the largest one voted for (np.bincount stops there)."""
    columns = [
        g.op("Unsqueeze", [lab, g.const(np.array([1], np.int64), "axis1")], "voted")
        for lab in labels
    ]
    stacked = columns[0] if len(columns) == 1 else g.op("Concat", columns, "voted", axis=1)
    top = g.op("ReduceMax", [stacked, g.const(np.array([1], np.int64), "axis1")], "top_vote")
    positions = g.const(np.arange(n_classes, dtype=np.int64).reshape(1, -1), "positions")
    counted = g.op("LessOrEqual", [positions, top], "counted")
    return g.op("Where", [counted, counts, g.const(np.array(-np.inf), "minus_inf")], "votes")


def convert_voting_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    members = _members(model, cols, g, where)
    weights = _weights(model)

    def prediction() -> str:
        predictions = [
            member_output(out, "prediction", est, path, "an average") for est, path, out in members
        ]
        return _average(g, predictions, weights, ndim=2, axis=1)

    return ModelOutputs(prediction=prediction)


def _check_classifier(model: Any) -> str | None:
    n_classes = len(model.classes_)
    for (name, _), est in zip(
        [(n, e) for n, e in model.estimators if not _dropped(e)], model.estimators_, strict=True
    ):
        if not is_encoded(final_classes(est), n_classes):
            return (
                f"its member {name!r} was not fitted on all {n_classes} classes (fitted outside "
                "the VotingClassifier?)"
            )
    return _check_weights(model)


def _check_weights(model: Any) -> str | None:
    weights = _weights(model)
    if weights is not None and getattr(model, "voting", "soft") == "soft" and sum(weights) == 0:
        return "its weights sum to zero (scikit-learn cannot average with them)"
    return None


register(
    Converter(
        classes=(VotingClassifier,),
        role="classifier",
        convert=convert_voting_classifier,
        check=_check_classifier,
        family="ensembles",
        accepts="voting 'soft' and 'hard', weights (any, negative included), members 'drop'ped, "
        "any exportable classifier or Pipeline as a member; 'hard' exports the label alone "
        "(scikit-learn has no predict_proba there)",
        exactness="the members' graphs, then np.average / np.bincount's arithmetic in member "
        "order; the first maximum wins a tie, as np.argmax",
    )
)
register(
    Converter(
        classes=(VotingRegressor,),
        role="regressor",
        convert=convert_voting_regressor,
        check=_check_weights,
        family="ensembles",
        accepts="weights, members 'drop'ped, any exportable regressor or Pipeline as a member",
        exactness="the members' graphs, then np.average's arithmetic in member order",
    )
)
