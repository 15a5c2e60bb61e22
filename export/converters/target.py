"""TransformedTargetRegressor: the regressor's prediction, then the target transform's inverse,
inside the graph.

scikit-learn predicts `transformer_.inverse_transform(regressor_.predict(X))`; with func and
inverse_func its transformer_ is a FunctionTransformer holding them. The inverse comes from the
transformer's own converter (`Converter.inverse`): a numpy function pair (np.log/np.exp,
np.log1p/np.expm1, np.sqrt/np.square, ...), the scalers, and any transformer whose converter
states one (QuantileTransformer, PowerTransformer).
"""

from __future__ import annotations

from sklearn.compose import TransformedTargetRegressor

from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, describe, find, register


def convert_transformed_target(
    model: TransformedTargetRegressor, cols: list[Col], g: Graph, where: str
) -> dict[str, str]:
    from pipeport.export.structure import convert_predictor, join

    inner = convert_predictor(model.regressor_, cols, g, join(where, "regressor"))
    transformer = model.transformer_
    converter = find(transformer)
    assert converter is not None and converter.inverse is not None  # checked by _check
    prediction = converter.inverse(transformer, inner["prediction"], g, join(where, "transformer"))
    return {"prediction": prediction}


def _check(model: TransformedTargetRegressor) -> str | None:
    transformer = model.transformer_
    converter = find(transformer)
    if converter is None or converter.inverse is None:
        return (
            f"its target transformer ({describe(transformer)}) has no inverse pipeport can put in "
            "the graph; use func/inverse_func numpy pairs (np.log/np.exp, np.log1p/np.expm1, "
            "np.sqrt/np.square), a scaler, QuantileTransformer or PowerTransformer"
        )
    if converter.check is not None:
        problem = converter.check(transformer)
        if problem:
            return f"its target transformer: {problem}"
    inverse = getattr(transformer, "inverse_func", None)
    if getattr(transformer, "func", None) is not None and inverse is None:
        return "it has func but no inverse_func"
    if inverse is not None:
        from pipeport.export.converters.functions import _function_problem

        problem = _function_problem(inverse, getattr(transformer, "inv_kw_args", None))
        if problem:
            return f"its inverse_func: {problem}"
    if getattr(model, "_training_dim", 1) != 1:
        return "it was fitted on a 2-D target; pipeport exports one prediction per row"
    return None


register(
    Converter(
        classes=(TransformedTargetRegressor,),
        role="regressor",
        convert=convert_transformed_target,
        check=_check,
        family="target transforms",
        accepts="any exportable regressor (or Pipeline); func/inverse_func numpy pairs "
        "(np.log/np.exp, np.log1p/np.expm1, np.sqrt/np.square, ...) or a transformer with an "
        "inverse (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, QuantileTransformer, "
        "PowerTransformer)",
        exactness="the regressor's graph, then the transformer's inverse_transform in float64",
    )
)
