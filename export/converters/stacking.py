"""StackingClassifier and StackingRegressor: the members' outputs side by side, then the final
estimator on them, as scikit-learn's `transform` and `final_estimator_` compute.

scikit-learn fits every member (and the final estimator) of a StackingClassifier on the
LabelEncoder-transformed target, so their classes are 0..K-1 and the final estimator's label is
the index of the ensemble's class. Per member, `stack_method_` (what "auto" resolved to) picks
the output stacked:

- "predict_proba": its probabilities, without the first column when the ensemble has two classes
  (`_concatenate_predictions` drops it: p0 = 1 - p1 adds nothing);
- "decision_function": its decision function ([N, 1] for two classes, [N, K] otherwise);
- "predict": its label (the class index, as a float64 column) or a regressor's prediction.

With passthrough=True the stacking step's own input columns follow, as `np.hstack` puts them.
The final estimator (any exportable model or Pipeline) reads those columns; its probabilities and
decision function are the ensemble's, its label indexes the ensemble's classes_.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import StackingClassifier, StackingRegressor

from pipeport.export.converters._members import (
    column,
    convert_member,
    final_classes,
    is_encoded,
    member_output,
    offers,
)
from pipeport.export.converters._outputs import labels
from pipeport.export.graph import DOUBLE, Col, Graph
from pipeport.export.registry import Converter, ModelOutputs, register


def _stacked(model: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    """The columns `model.transform` makes: each member's stacked output, then (passthrough)
    the input columns."""
    from pipeport.export.structure import join

    names = [name for name, est in model.estimators if not (isinstance(est, str) and est == "drop")]
    binary = hasattr(model, "classes_") and len(model.classes_) == 2
    out: list[Col] = []
    for i, (name, est, method) in enumerate(
        zip(names, model.estimators_, model.stack_method_, strict=True)
    ):
        path = join(where, name)
        outputs = convert_member(est, cols, g, path)
        why = f"stack_method '{method}'"
        if method == "predict_proba":
            stacked = member_output(outputs, "probabilities", est, path, why)
            if binary:
                stacked = column(g, stacked, 1, "stacked_p1")
        elif method == "decision_function":
            stacked = member_output(outputs, "decision", est, path, why)
        elif hasattr(est, "classes_"):  # a classifier's predict: the class index, as a number
            index = member_output(outputs, "label", est, path, why)
            flat = g.op("Cast", [index], "stacked_label", to=DOUBLE)
            stacked = g.op(
                "Unsqueeze", [flat, g.const(np.array([1], np.int64), "axis1")], "stacked_label"
            )
        else:
            stacked = member_output(outputs, "prediction", est, path, why)
        width = int(model._n_feature_outs[i])
        out.extend(g.block(stacked, [f"{name}_{k}" for k in range(width)]))
    if model.passthrough:
        out.extend(cols)
    return out


def convert_stacking_classifier(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    from pipeport.export.structure import join

    final = convert_member(
        model.final_estimator_, _stacked(model, cols, g, where), g, join(where, "final_estimator")
    )
    built: dict[str, Any] = {
        "label": lambda: labels(g, model.classes_, final["label"]),
    }
    for key in ("probabilities", "decision"):
        if offers(final, key):
            built[key] = lambda key=key: final[key]
    return ModelOutputs(**built)


def convert_stacking_regressor(model: Any, cols: list[Col], g: Graph, where: str) -> ModelOutputs:
    from pipeport.export.structure import join

    final = convert_member(
        model.final_estimator_, _stacked(model, cols, g, where), g, join(where, "final_estimator")
    )
    return ModelOutputs(prediction=lambda: final["prediction"])


def _check_classifier(model: Any) -> str | None:
    if isinstance(model.classes_, list):
        return "it is a multilabel classifier; pipeport exports one label per row"
    n_classes = len(model.classes_)
    if not is_encoded(final_classes(model.final_estimator_), n_classes):
        return f"its final estimator was not fitted on all {n_classes} classes"
    for est in model.estimators_:
        if hasattr(est, "classes_") and not is_encoded(final_classes(est), n_classes):
            return f"a member was not fitted on all {n_classes} classes"
    return _check_widths(model)


def _check_widths(model: Any) -> str | None:
    for method, width in zip(model.stack_method_, model._n_feature_outs, strict=True):
        if method == "predict" and width != 1:
            return "a member predicts several targets; pipeport exports one prediction per row"
    return None


register(
    Converter(
        classes=(StackingClassifier,),
        role="classifier",
        convert=convert_stacking_classifier,
        check=_check_classifier,
        family="ensembles",
        accepts="passthrough True/False, stack_method 'auto', 'predict_proba', "
        "'decision_function', 'predict' (per member, as fitted), members 'drop'ped, any "
        "exportable classifier or Pipeline as a member or final_estimator; a final estimator "
        "without predict_proba exports the label alone",
        exactness="the members' graphs, their outputs stacked as `transform` does (the first "
        "probability column dropped for two classes), then the final estimator's graph",
    )
)
register(
    Converter(
        classes=(StackingRegressor,),
        role="regressor",
        convert=convert_stacking_regressor,
        check=_check_widths,
        family="ensembles",
        accepts="passthrough True/False, members 'drop'ped, any exportable regressor or Pipeline "
        "as a member or final_estimator",
        exactness="the members' predictions stacked as `transform` does, then the final "
        "estimator's graph",
    )
)
