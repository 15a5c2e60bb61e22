"""PoissonRegressor, GammaRegressor and TweedieRegressor: the linear predictor, then the inverse
link, as `_GeneralizedLinearRegressor.predict` computes it.

raw = X @ coef_ + intercept_ in float64 (MatMul may add in another order than numpy: a few
ulps); prediction = exp(raw) for the log link (Poisson, Gamma, Tweedie with link 'log', or
'auto' with power > 0), raw itself for the identity link (Tweedie with link 'identity', or
'auto' with power 0). onnxruntime's float64 Exp is within 2 ulps of numpy's: the relative error
of the prediction is a few ulps of |raw|, far inside the gate's 1e-6.
"""

from __future__ import annotations

from typing import Any

from sklearn._loss.link import IdentityLink, LogLink
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor

from pipeport.export.converters.linear import _decision
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def convert_glm(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    raw = _decision(model, cols, g, where)
    if isinstance(model._base_loss.link, LogLink):
        return {"prediction": g.op("Exp", [raw], "prediction")}
    return {"prediction": raw}


def _check(model: Any) -> str | None:
    link = getattr(getattr(model, "_base_loss", None), "link", None)
    if not isinstance(link, (LogLink, IdentityLink)):
        return f"its link {type(link).__name__} is not one pipeport knows (log, identity)"
    return None


register(
    Converter(
        classes=(PoissonRegressor, GammaRegressor, TweedieRegressor),
        role="regressor",
        convert=convert_glm,
        check=_check,
        family="linear models",
        accepts="every solver and alpha; TweedieRegressor with any power and link 'auto', "
        "'log' or 'identity'",
        exactness="float64 MatMul + intercept, then exp (log link) or nothing (identity link)",
    )
)
