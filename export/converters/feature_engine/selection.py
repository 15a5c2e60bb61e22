"""feature-engine's selectors: every one drops its fitted `features_to_drop_` by name.

DropFeatures, DropConstantFeatures, DropDuplicateFeatures, DropCorrelatedFeatures,
SmartCorrelatedSelection, SelectBySingleFeaturePerformance and the other selectors share one
transform (`feature_engine.selection.base_selector.BaseSelector`): `X.drop(columns=
features_to_drop_)`. Whatever learned the list (variance, duplicates, correlation, a model's
score), nothing is computed: the graph keeps the other columns, in order.
"""

from __future__ import annotations

from typing import Any

from feature_engine.selection import (
    MRMR,
    DropConstantFeatures,
    DropCorrelatedFeatures,
    DropDuplicateFeatures,
    DropFeatures,
    DropHighPSIFeatures,
    ProbeFeatureSelection,
    RecursiveFeatureAddition,
    RecursiveFeatureElimination,
    SelectByInformationValue,
    SelectByShuffling,
    SelectBySingleFeaturePerformance,
    SelectByTargetMeanPerformance,
    SmartCorrelatedSelection,
)
from feature_engine.selection.base_selector import BaseSelector

from pipeport.export.converters.feature_engine._frame import Frame
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def convert_selector(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    frame = Frame(step, cols, g, where)
    frame.drop(list(step.features_to_drop_))
    return frame.result()


def _check(step: Any) -> str | None:
    if not hasattr(step, "features_to_drop_"):
        return "it is not fitted"
    if type(step).transform is not BaseSelector.transform:
        return "its transform is its own, not feature-engine's drop of features_to_drop_"
    return None


register(
    Converter(
        classes=(
            DropFeatures,
            DropConstantFeatures,
            DropDuplicateFeatures,
            DropCorrelatedFeatures,
            SmartCorrelatedSelection,
            SelectBySingleFeaturePerformance,
            SelectByShuffling,
            SelectByTargetMeanPerformance,
            SelectByInformationValue,
            RecursiveFeatureAddition,
            RecursiveFeatureElimination,
            DropHighPSIFeatures,
            ProbeFeatureSelection,
            MRMR,
        ),
        role="transformer",
        convert=convert_selector,
        check=_check,
        family="feature-engine selection",
        accepts="every parameter (whatever learned features_to_drop_)",
        exactness="X.drop(columns=features_to_drop_): the other columns, in order",
    )
)
