"""feature-engine's cappers: Winsorizer and ArbitraryOutlierCapper (OutlierTrimmer is refused).

Both cap in transform with `X[v].clip(upper=right_tail_caps_[v])`, then
`X[v].clip(lower=left_tail_caps_[v])`, whatever way the caps were learned (gaussian, iqr, mad,
quantiles; fold; or the user's dictionaries): a value above the cap becomes the cap, a missing
value stays missing (`missing_values='ignore'`). The graph does those comparisons in the same
order (`Where(x > cap, cap, x)`): exact. Winsorizer's `add_indicators` appends `<v>_left`
(capped > original) and `<v>_right` (capped < original) as 1.0 / 0.0, in feature-engine's order.

OutlierTrimmer removes rows in transform; a predictor answers every row it is given, so it is
refused, naming Winsorizer as the step that caps instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from feature_engine.outliers import ArbitraryOutlierCapper, OutlierTrimmer, Winsorizer

from pipeport.export.converters.feature_engine._frame import Frame
from pipeport.export.graph import DOUBLE, Col, Graph
from pipeport.export.registry import Converter, register


def _cap(g: Graph, x: str, cap: float, side: str) -> str:
    limit = g.const(np.array(float(cap)), f"{side}_cap")
    beyond = g.op("Greater" if side == "right" else "Less", [x, limit], f"beyond_{side}_cap")
    return str(g.op("Where", [beyond, limit, x], f"capped_{side}"))


def convert_capper(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    original: dict[Any, str] = {}
    capped: dict[Any, str] = {}
    for v in list(step.right_tail_caps_) + list(step.left_tail_caps_):
        if v not in original:
            original[v] = capped[v] = frame.numbers([v])
    for v, cap in step.right_tail_caps_.items():
        capped[v] = _cap(g, capped[v], cap, "right")
    for v, cap in step.left_tail_caps_.items():
        capped[v] = _cap(g, capped[v], cap, "left")
    for v, tensor in capped.items():
        frame.put([v], tensor)
    if getattr(step, "add_indicators", False):
        sides = {"left": ["left"], "right": ["right"], "both": ["left", "right"]}[step.tail]
        for v in step.variables_:
            x, y = original.get(v) or frame.numbers([v]), capped.get(v) or frame.numbers([v])
            for side in sides:
                moved = g.op("Greater" if side == "left" else "Less", [y, x], f"capped_{side}")
                (flag,) = g.block(g.op("Cast", [moved], to=DOUBLE), [f"{v}_{side}"])
                frame[f"{v}_{side}"] = flag
    return frame.result()


def _refuse_trimmer(step: Any) -> str:
    return (
        "it removes the rows it finds outliers in transform, and a predictor must answer every "
        "row it is given. Cap the outliers instead (Winsorizer with the same capping_method, "
        "tail and fold), or trim the training data before fitting"
    )


register(
    Converter(
        classes=(Winsorizer, ArbitraryOutlierCapper),
        role="transformer",
        convert=convert_capper,
        family="feature-engine outliers",
        accepts=(
            "Winsorizer: capping_method gaussian, iqr, mad, quantiles; tail right, left, both; "
            "fold; add_indicators; ArbitraryOutlierCapper: max_capping_dict, min_capping_dict; "
            "missing_values 'raise' (refused in every runtime) and 'ignore' (passes through)"
        ),
        exactness="clip(upper=right cap) then clip(lower=left cap) as comparisons and Where: "
        "exact; indicators as 1.0 / 0.0",
    )
)
register(
    Converter(
        classes=(OutlierTrimmer,),
        role="transformer",
        convert=convert_capper,  # never called: check refuses every instance
        check=_refuse_trimmer,
        family="feature-engine outliers",
        accepts="refused: it removes rows",
        exactness="",
    )
)
