"""pipeport.dask.predict: a dask DataFrame in, a dask DataFrame of predictions out, scored by
one session per worker process built from model bytes sent once."""

from __future__ import annotations

import pickle
import subprocess
import sys

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask_testkit import PENGUINS, REPO, env

import pipeport
import pipeport.dask as pipeport_dask
from pipeport.serving.model import load_model


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    raw = pd.read_csv(PENGUINS)
    raw.insert(0, "key", [f"k{i}" for i in range(len(raw))])
    raw.index = raw.index * 10 + 3  # an index of the user's own, kept as it is
    return raw


def expected(model_path, frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows through one onnxruntime session in this process."""
    model = load_model(model_path)
    label, probabilities = model.run(
        ["label", "probabilities"], pipeport.frame_to_feeds(frame, model.schema)
    )
    out = pd.DataFrame(
        probabilities, columns=[f"probability_{c}" for c in model.schema.classes], index=frame.index
    )
    out.insert(0, "label", label)
    return out


def test_predictions_keep_the_index_and_the_kept_columns(client, penguins, frame):
    ddf = dd.from_pandas(frame, npartitions=5)
    result = pipeport_dask.predict(ddf, penguins, keep_columns=["key"])
    assert result.npartitions == 5
    assert list(result.columns) == [
        "key",
        "label",
        "probability_Adelie",
        "probability_Chinstrap",
        "probability_Gentoo",
    ]
    computed = result.compute()
    truth = expected(penguins, frame)
    assert computed.index.equals(frame.index)
    assert computed["key"].tolist() == frame["key"].tolist()
    assert computed["label"].tolist() == truth["label"].tolist()
    for column in truth.columns[1:]:
        assert np.array_equal(computed[column].to_numpy(), truth[column].to_numpy())
    assert dict(computed.dtypes) == dict(result.dtypes)  # the declared meta is what arrives


def test_each_worker_builds_one_session_from_bytes_sent_once(client, penguins, frame):
    ddf = dd.from_pandas(frame, npartitions=12)
    first = pipeport_dask.predict(ddf, penguins)
    tasks = dict(first.__dask_graph__())
    size = penguins.stat().st_size
    # The model's bytes are a Future scattered to every worker, never inside a task.
    assert all(len(pickle.dumps(task)) < size // 2 for task in tasks.values())
    first.compute()
    pipeport_dask.predict(ddf, penguins).compute()  # a second job reuses the sessions

    def built(sha: str) -> int:
        import pipeport.dask

        return pipeport.dask.SESSIONS_BUILT.get(sha, 0)

    sha = pipeport_dask.read_model(penguins).sha256
    assert sorted(client.run(built, sha).values()) == [1, 1]


def test_a_row_the_contract_refuses_names_partition_row_and_column(client, models):
    frame = pd.DataFrame(
        {"bill length (mm)": [40.0, 41.0, 42.0, np.inf, 44.0, 45.0], "island": ["Dream"] * 6}
    )
    ddf = dd.from_pandas(frame, npartitions=2)  # rows 0-2 and 3-5
    with pytest.raises(pipeport_dask.PartitionInputError) as caught:
        pipeport_dask.predict(ddf, models["classifier"]).compute()
    assert caught.value.partition == 1
    assert caught.value.errors == [
        pipeport.RowError(0, "bill length (mm)", "number is not finite (±Infinity)")
    ]
    assert str(caught.value).startswith("partition 1: row 0, field 'bill length (mm)'")
    assert isinstance(caught.value, pipeport.RawInputError)


def test_missing_columns_are_refused_before_anything_runs(models):
    ddf = dd.from_pandas(pd.DataFrame({"island": ["Dream"]}), npartitions=1)
    with pytest.raises(pipeport.RawInputError) as caught:
        pipeport_dask.predict(ddf, models["classifier"], keep_columns=["id"])
    assert [(e.field, e.problem) for e in caught.value.errors] == [
        ("bill length (mm)", "missing column"),
        ("id", "keep_columns names a column ddf does not have"),
    ]


def test_integer_labels_and_regression(client, models):
    frame = pd.DataFrame({"bill length (mm)": [35.0, None, 50.0], "island": ["Biscoe", None, "x"]})
    ddf = dd.from_pandas(frame, npartitions=2)
    labels = pipeport_dask.predict(ddf, models["int_classifier"]).compute()
    assert labels["label"].dtype == np.int64
    assert labels["label"].tolist() == expected(models["int_classifier"], frame)["label"].tolist()
    values = pipeport_dask.predict(ddf, models["regressor"]).compute()
    model = load_model(models["regressor"])
    (truth,) = model.run(["prediction"], pipeport.frame_to_feeds(frame, model.schema))
    assert list(values.columns) == ["prediction"]
    assert np.array_equal(values["prediction"].to_numpy(), truth.reshape(-1))


def test_without_a_distributed_client_the_bytes_are_one_key_of_the_graph(penguins):
    """In a fresh interpreter (no Client anywhere): dask's own threaded scheduler."""
    code = (
        "import pickle, pandas as pd, dask.dataframe as dd\n"
        "import pipeport.dask as pd_\n"
        f"frame = pd.read_csv({str(PENGUINS)!r})\n"
        f"out = pd_.predict(dd.from_pandas(frame, npartitions=4), {str(penguins)!r})\n"
        f"size = len(open({str(penguins)!r}, 'rb').read())\n"
        "graph = dict(out.__dask_graph__())\n"
        "big = [k for k, v in graph.items() if len(pickle.dumps(v)) > size // 2]\n"
        "print(len(big), 'pipeport-model' in str(big[0]), len(out.compute()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env(),
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True", "344"]
