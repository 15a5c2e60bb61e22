"""Drift rules (serving.drift): what counts as missing, out of the training range and unseen, and
the request path's single-row loop agreeing with the whole-column count `pipeport replay` uses."""

from __future__ import annotations

import numpy as np

from pipeport.contract import raw_rows_to_feeds
from pipeport.schema import InputSpec, ModelSchema
from pipeport.serving import drift
from pipeport.serving.metrics import SharedMetrics

SCHEMA = ModelSchema(
    name="m",
    version="1",
    task="regression",
    inputs=(
        InputSpec("length", "length", "numeric", min=33.1, max=59.6),
        InputSpec("code", "code", "numeric", categories=(1.0, 2.0, 3.0)),  # codes read as such
        InputSpec("unbounded", "unbounded", "numeric"),  # no min/max in the file
        InputSpec("island", "island", "categorical", categories=("Biscoe", "Dream")),
        InputSpec("free", "free", "categorical"),  # no categories: nothing is unseen
        InputSpec(
            "strict",
            "strict",
            "categorical",
            categories=("a", "b"),
            unknown_categories="error",  # unseen values are refused, not counted
        ),
    ),
    outputs={"prediction": "prediction"},
)


def _rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rows.append(
            {
                "length": rng.choice([None, 20.0, 33.1, 45.0, 59.6, 70.0]),
                "code": rng.choice([None, 1, 2.0, 3, 4, 0.5]),
                "unbounded": rng.choice([None, -1e300, 1e300]),
                "island": rng.choice([None, "", "Biscoe", "Dream", "Mars"]),
                "free": rng.choice([None, "anything"]),
                "strict": rng.choice(["a", "b"]),
            }
        )
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]


def _metrics() -> SharedMetrics:
    return SharedMetrics(("predict",), drift.counters(SCHEMA))


def _values(metrics: SharedMetrics) -> dict[tuple[str, tuple], float]:
    return {(c.name, c.labels): metrics.value(i) for i, c in enumerate(metrics.counters)}


def test_what_counts_as_drift_in_each_kind_of_column():
    rows = [
        {"length": None, "code": 4, "unbounded": 1e300, "island": "", "free": "x", "strict": "a"},
        {
            "length": 33.1,
            "code": 1,
            "unbounded": None,
            "island": "Mars",
            "free": None,
            "strict": "b",
        },
        {"length": 59.7, "code": None, "unbounded": 0, "island": None, "free": "", "strict": "a"},
        {"length": 33.0, "code": 2.5, "unbounded": 0, "island": "Dream", "free": "", "strict": "a"},
    ]
    counts = drift.count_drift(raw_rows_to_feeds(rows, SCHEMA), drift.column_rules(SCHEMA))
    zero = dict.fromkeys(drift.KINDS, 0)
    assert counts == {
        "length": zero | {"missing": 1, "below_range": 1, "above_range": 1},
        "code": zero | {"missing": 1, "unseen_category": 2},
        "unbounded": zero | {"missing": 1},
        "island": zero | {"missing": 2, "unseen_category": 1},
        "free": zero | {"missing": 3},
        "strict": zero,
    }
    names = {c.name for c in drift.counters(SCHEMA) if dict(c.labels)["column"] == "unbounded"}
    assert names == {drift.MISSING}  # no range in the file: no range counter


def test_the_single_row_loop_counts_what_the_column_count_counts():
    rows = _rows(300, seed=3)
    by_row, by_batch = _metrics(), _metrics()
    monitor_rows, monitor_batch = (
        drift.DriftMonitor(SCHEMA, by_row),
        drift.DriftMonitor(SCHEMA, by_batch),
    )
    for row in rows:
        monitor_rows.observe(raw_rows_to_feeds([row], SCHEMA))
    monitor_batch.observe(raw_rows_to_feeds(rows, SCHEMA))
    assert _values(by_row) == _values(by_batch)
    expected = drift.count_drift(raw_rows_to_feeds(rows, SCHEMA), drift.column_rules(SCHEMA))
    assert (
        _values(by_batch)[(drift.MISSING, (("column", "island"),))] == expected["island"]["missing"]
    )
    assert sum(_values(by_row).values()) == sum(
        count for counts in expected.values() for count in counts.values()
    )
    assert sum(_values(by_row).values()) > 300  # the control: these rows drift a lot
