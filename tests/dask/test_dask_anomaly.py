"""An anomaly model (a pipeline ending with IsolationForest) on the dask engine: `pipeport
predict --engine dask` writes `row, label, score` (label -1 outlier / 1 inlier, score
scikit-learn's score_samples) in Parquet and CSV part files, the CSV ones the local engine's
output byte for byte; `pipeport.dask.predict` returns int64 labels and float64 scores. The
expected values are scikit-learn's own predict and score_samples."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dask_testkit import csv_parts, local, on_dask

import pipeport.dask as pipeport_dask


@pytest.fixture(scope="module")
def rows(anomaly, tmp_path_factory) -> tuple[pd.DataFrame, object]:
    """600 new rows (far-out amounts, missing ones, a channel never seen) in a CSV file, read
    back as scikit-learn reads them, and that file's path."""
    rng = np.random.default_rng(1)
    amount = rng.lognormal(3.0, 1.0, 600)
    amount[rng.random(600) < 0.05] = np.nan
    amount[rng.random(600) < 0.03] = 1e5
    channel = rng.choice(["web", "shop", "phone", "fax"], 600, p=[0.4, 0.3, 0.25, 0.05])
    frame = pd.DataFrame({"amount": amount, "hour": rng.integers(0, 24, 600), "channel": channel})
    path = tmp_path_factory.mktemp("anomaly-rows") / "rows.csv"
    frame.to_csv(path, index=False)
    read = pd.read_csv(path)
    labels = anomaly[1].predict(read)
    assert -1 in labels and 1 in labels  # the control: outliers and inliers
    return read, path


def _assert_sklearns(pipeline, frame: pd.DataFrame, label, score) -> None:
    assert np.asarray(label).tolist() == pipeline.predict(frame).tolist()
    np.testing.assert_allclose(
        np.asarray(score, np.float64), pipeline.score_samples(frame), rtol=0, atol=1e-12
    )


def test_parquet_parts_hold_scikit_learns_labels_and_scores(anomaly, rows, tmp_path):
    model, pipeline = anomaly
    frame, path = rows
    result = on_dask(model, path, tmp_path / "out", "--partition-rows", "150")
    assert result.returncode == 0, result.stderr
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(parts) > 1  # the input really was split
    table = pd.concat([pq.read_table(p).to_pandas() for p in parts]).sort_values("row")
    assert list(table.columns) == ["row", "label", "score"]
    schema = pq.read_schema(parts[0])
    assert (str(schema.field("label").type), str(schema.field("score").type)) == (
        "int64",
        "double",
    )
    assert table["row"].tolist() == list(range(len(frame)))
    _assert_sklearns(pipeline, frame, table["label"], table["score"])


def test_csv_parts_are_the_local_engines_row_label_score(anomaly, rows, tmp_path):
    model, pipeline = anomaly
    frame, path = rows
    expected = local(model, path, tmp_path / "local.csv")
    result = on_dask(
        model, path, tmp_path / "out", "--output-format", "csv", "--partition-rows", "150"
    )
    assert result.returncode == 0, result.stderr
    written = csv_parts(tmp_path / "out")
    assert written == expected
    assert written.startswith("row,label,score\r\n")
    back = pd.read_csv(tmp_path / "local.csv")
    _assert_sklearns(pipeline, frame, back["label"], back["score"])


def test_the_python_api_returns_int_labels_and_scores(client, anomaly, rows):
    model, pipeline = anomaly
    frame = rows[0].copy()
    frame.insert(0, "key", [f"k{i}" for i in range(len(frame))])
    result = pipeport_dask.predict(
        dd.from_pandas(frame, npartitions=4), model, keep_columns=["key"]
    )
    assert list(result.columns) == ["key", "label", "score"]
    computed = result.compute()
    assert dict(computed.dtypes) == dict(result.dtypes)  # the declared meta is what arrives
    assert (str(computed["label"].dtype), str(computed["score"].dtype)) == ("int64", "float64")
    assert computed.index.equals(frame.index)
    assert computed["key"].tolist() == frame["key"].tolist()
    _assert_sklearns(pipeline, rows[0], computed["label"], computed["score"])
