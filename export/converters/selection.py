"""Feature selection, one mechanism: any fitted selector's `get_support()` picks the columns.

SelectKBest, SelectPercentile, VarianceThreshold, SelectFromModel, RFE, RFECV,
SequentialFeatureSelector and any other scikit-learn `SelectorMixin` keep the columns whose
support is true, in order; nothing is computed.
"""

from __future__ import annotations

from typing import Any

from sklearn.feature_selection import SelectorMixin

from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def convert_selector(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    support = step.get_support()
    return [col for col, keep in zip(cols, support, strict=True) if keep]


register(
    Converter(
        classes=(),
        role="transformer",
        convert=convert_selector,
        matches=lambda step: isinstance(step, SelectorMixin),
        family="feature selection",
        accepts="any fitted scikit-learn selector (SelectorMixin: SelectKBest, SelectPercentile, "
        "VarianceThreshold, SelectFromModel, RFE, RFECV, SequentialFeatureSelector, ...)",
        exactness="the columns of get_support(), in order",
    )
)
