"""feature-engine's SklearnTransformerWrapper: a scikit-learn transformer applied to `variables`,
the other columns passed through.

Its transform does one of three things, by the wrapped class's name (feature-engine's own lists):
a selector drops its `features_to_drop_`; OneHotEncoder and PolynomialFeatures append their
output columns (named by the transformer) and drop the variables; every other transformer writes
its output back over the variables, in place. The wrapped transformer is converted by its own
pipeport converter (export/converters/), on exactly the columns it was fitted on, and its step
path is `<wrapper>__transformer`, as in `set_params`.
"""

from __future__ import annotations

from feature_engine.wrappers import SklearnTransformerWrapper
from feature_engine.wrappers.wrappers import _CREATORS, _SELECTORS

from pipeport.errors import UnsupportedStepError
from pipeport.export.converters.feature_engine._frame import Frame
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def convert_wrapper(
    step: SklearnTransformerWrapper, cols: list[Col], g: Graph, where: str
) -> list[Col]:
    from pipeport.export.structure import convert_transformer, join

    frame = Frame(step, cols, g, where)
    inner = step.transformer_
    kind = type(inner).__name__
    variables = list(step.variables_)
    if kind in _SELECTORS:
        frame.drop(list(step.features_to_drop_))
        return frame.result()
    out = convert_transformer(inner, [frame[v] for v in variables], g, join(where, "transformer"))
    if kind in _CREATORS:
        names = [str(n) for n in inner.get_feature_names_out(variables)]
        if len(names) != len(out):
            raise UnsupportedStepError(
                f"Step '{where}': its {kind} makes {len(out)} columns in the graph but names "
                f"{len(names)}; pipeport will not guess"
            )
        frame.drop(variables)
        for name, col in zip(names, out, strict=True):
            frame[name] = col
        return frame.result()
    if len(out) != len(variables):
        raise UnsupportedStepError(
            f"Step '{where}': its {kind} turns {len(variables)} columns into {len(out)}, which "
            "feature-engine writes back over the same columns only when the counts match"
        )
    for variable, col in zip(variables, out, strict=True):
        frame[variable] = col
    return frame.result()


def _check(step: SklearnTransformerWrapper) -> str | None:
    if not hasattr(step, "transformer_"):
        return "it is not fitted"
    return None


register(
    Converter(
        classes=(SklearnTransformerWrapper,),
        role="transformer",
        convert=convert_wrapper,
        check=_check,
        family="feature-engine wrappers",
        accepts=(
            "any scikit-learn transformer pipeport converts (scalers, imputers, encoders, "
            "Binarizer, selectors, ...), on `variables`; the others pass through"
        ),
        exactness="the wrapped transformer's own converter on its columns; feature-engine's "
        "placement of the result (in place, appended, or dropped)",
    )
)
