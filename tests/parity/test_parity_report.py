"""The parity report lists every runtime (those left out by --runtimes as "not run", not judged)
and draws readable plots: scatter plots with ticks and axis titles, histograms with a count
axis (parity_tests.look, shared with the replay and diff reports)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pipeport
from pipeport.parity_tests import look


def test_runtimes_left_out_are_listed_not_run_and_not_judged(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.5]})
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 0, 0, 1, 1, 1])
    model = pipeport.to_onnx(pipeline, X, "tiny", generated_rows=0)
    run = pipeport.check_parity(
        pipeline, model, X, runtimes=["onnxruntime"], edge_cases=False, report_dir=tmp_path
    )
    assert run.passed
    report = json.loads((tmp_path / "report.json").read_text())
    statuses = {r["runtime"]: r["status"] for r in report["runtimes"]}
    assert statuses == {
        "sklearn": "passed",
        "onnxruntime": "passed",
        "reference": "not run",
        "http": "not run",
        "node": "not run",
        "browser": "not run",
    }
    page = (tmp_path / "report.html").read_text()
    for name in ("reference", "http", "node", "browser"):
        assert re.search(rf"<td>{name}</td><td>NOT RUN</td>", page), name
    assert "left out by --runtimes" in page
    # the plots' axes: titles and tick labels on the scatter, a count axis on the histogram
    assert ">scikit-learn probability</text>" in page and ">onnxruntime probability</text>" in page
    assert 'text-anchor="end">0.4</text>' in page  # a y tick of the scatter (0 to 1 by 0.2)
    assert ">values</text>" in page  # the histogram's count axis title
    assert re.search(r'text-anchor="end">\d+</text>', page)  # its count ticks


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert look.nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert look.nice_ticks(2700.0, 6300.0) == [2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0]
    ticks = look.nice_ticks(-3.2, 47.0)
    assert ticks[0] <= -3.2 and ticks[-1] >= 47.0
    assert look.nice_ticks(5.0, 5.0)[0] < 5.0 < look.nice_ticks(5.0, 5.0)[-1]
