"""Drift: per raw column, how many values fall outside what training saw.

Three counts, from the schema in the ONNX file (docs/onnx-contract.md), on the values as the
graph is fed them (after the raw-row contract has normalised them):

- missing: NaN in a numeric column, "" (the missing sentinel) in a categorical one;
- out of range: a number below the column's training `min` or above its `max`;
- unseen category: a value outside the column's learned `categories` where the pipeline accepts
  unseen values (where it refuses them the request is refused and nothing is counted).

`pipeport serve` counts every scored row in /metrics (`DriftMonitor`, on the request path: a
single row takes a few scalar comparisons per column, and a counter is touched only when a value
drifts); `pipeport replay` summarises a prediction log with `count_drift`, the same rules on
whole columns. One owner of the rules, so /metrics and the replay report cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeport.schema import NUMERIC, ModelSchema
from pipeport.serving.metrics import Counter, SharedMetrics

KINDS = ("missing", "below_range", "above_range", "unseen_category")
MISSING = "pipeport_drift_missing_total"
OUT_OF_RANGE = "pipeport_drift_out_of_range_total"
UNSEEN = "pipeport_drift_unseen_category_total"


@dataclass(frozen=True)
class ColumnRule:
    """What counts as drift in one raw column."""

    name: str
    onnx_name: str
    numeric: bool
    low: float  # -inf when the file has no min
    high: float  # +inf when the file has no max
    categories: frozenset[Any] | None  # None: no unseen-category count for this column

    @property
    def has_range(self) -> bool:
        return self.numeric and (math.isfinite(self.low) or math.isfinite(self.high))


def column_rules(schema: ModelSchema) -> tuple[ColumnRule, ...]:
    """The drift rules of every input of `schema`, in input order."""
    rules = []
    for spec in schema.inputs:
        numeric = spec.kind == NUMERIC
        counts_unseen = bool(spec.categories) and spec.unknown_categories == "accepted"
        rules.append(
            ColumnRule(
                name=spec.name,
                onnx_name=spec.onnx_name,
                numeric=numeric,
                low=spec.min if numeric and spec.min is not None else -math.inf,
                high=spec.max if numeric and spec.max is not None else math.inf,
                categories=frozenset(spec.categories) if counts_unseen else None,
            )
        )
    return tuple(rules)


def counters(schema: ModelSchema) -> list[Counter]:
    """The /metrics counters drift needs for `schema`, declared before the map is created."""
    rules = column_rules(schema)
    out = [
        Counter(
            MISSING,
            "Missing values (null, NaN or the empty string) in scored rows, by raw column.",
            (("column", rule.name),),
        )
        for rule in rules
    ]
    out += [
        Counter(
            OUT_OF_RANGE,
            "Numbers outside the training rows' range (the file's min/max) in scored rows.",
            (("column", rule.name), ("side", side)),
        )
        for rule in rules
        if rule.has_range
        for side in ("below", "above")
    ]
    out += [
        Counter(
            UNSEEN,
            "Values outside the categories the pipeline learned, in scored rows.",
            (("column", rule.name),),
        )
        for rule in rules
        if rule.categories is not None
    ]
    return out


def count_drift(
    feeds: Mapping[str, np.ndarray], rules: tuple[ColumnRule, ...]
) -> dict[str, dict[str, int]]:
    """{raw column: {kind: count}} over whole feed columns (the graph's encoding)."""
    out: dict[str, dict[str, int]] = {}
    for rule in rules:
        values = np.asarray(feeds[rule.onnx_name]).reshape(-1)
        counts = dict.fromkeys(KINDS, 0)
        if rule.numeric:
            numbers = values.astype(np.float64)
            missing = np.isnan(numbers)
            counts["missing"] = int(missing.sum())
            counts["below_range"] = int((numbers < rule.low).sum())
            counts["above_range"] = int((numbers > rule.high).sum())
            if rule.categories is not None:
                known = np.isin(numbers, np.array(sorted(rule.categories), dtype=np.float64))
                counts["unseen_category"] = int((~known & ~missing).sum())
        else:
            texts = values.tolist()
            counts["missing"] = sum(1 for text in texts if text == "")
            if rule.categories is not None:
                known_texts = rule.categories
                counts["unseen_category"] = sum(
                    1 for text in texts if text != "" and text not in known_texts
                )
        out[rule.name] = counts
    return out


#: (onnx name, min, max, categories, counter indices: missing, below, above, unseen)
_NumericColumn = tuple[str, float, float, frozenset[Any] | None, int, int, int, int]
#: (onnx name, categories, counter indices: missing, unseen)
_TextColumn = tuple[str, frozenset[Any] | None, int, int]


class DriftMonitor:
    """Counts drift in /metrics for every scored request (`observe(feeds)`)."""

    def __init__(self, schema: ModelSchema, metrics: SharedMetrics) -> None:
        self.rules = column_rules(schema)
        self._metrics = metrics
        index = metrics.counter_index
        self._index = {
            rule.name: {
                "missing": index(MISSING, (("column", rule.name),)),
                "below_range": index(OUT_OF_RANGE, (("column", rule.name), ("side", "below"))),
                "above_range": index(OUT_OF_RANGE, (("column", rule.name), ("side", "above"))),
                "unseen_category": index(UNSEEN, (("column", rule.name),)),
            }
            for rule in self.rules
        }
        # One tuple per column for the single-row loop: no attribute lookups per value.
        self._numeric: tuple[_NumericColumn, ...] = tuple(
            (
                r.onnx_name,
                r.low,
                r.high,
                r.categories,
                self._index[r.name]["missing"],
                self._index[r.name]["below_range"],
                self._index[r.name]["above_range"],
                self._index[r.name]["unseen_category"],
            )
            for r in self.rules
            if r.numeric
        )
        self._texts: tuple[_TextColumn, ...] = tuple(
            (
                r.onnx_name,
                r.categories,
                self._index[r.name]["missing"],
                self._index[r.name]["unseen_category"],
            )
            for r in self.rules
            if not r.numeric
        )

    def observe(self, feeds: Mapping[str, Any]) -> None:
        """Count the drifting values of one request's feeds (built by the raw-row contract)."""
        add = self._metrics.add
        if not self.rules:
            return
        if len(feeds[self.rules[0].onnx_name]) != 1:
            for name, counts in count_drift(feeds, self.rules).items():
                for kind, count in counts.items():
                    if count:
                        add(self._index[name][kind], count)
            return
        for onnx_name, low, high, categories, missing, below, above, unseen in self._numeric:
            x = feeds[onnx_name].item(0)
            if x != x:
                add(missing)
                continue
            if x < low:
                add(below)
            elif x > high:
                add(above)
            if categories is not None and x not in categories:
                add(unseen)
        for onnx_name, categories, missing, unseen in self._texts:
            text = feeds[onnx_name].item(0)
            if text == "":
                add(missing)
            elif categories is not None and text not in categories:
                add(unseen)
