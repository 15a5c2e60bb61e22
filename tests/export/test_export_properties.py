"""Property-based: random DataFrames of every dtype pandas produces (object, str, category of
text and of integers, bool, object booleans with NaN, int, float with NaN), NaN anywhere and
categories never seen, through every encoder and imputer: the export passes its gate, and on
fresh random rows scikit-learn, the graph (fed by the contract) and the server agree; every row
the contract refuses, scikit-learn refuses too."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

import pipeport
from pipeport.contract import frame_to_feeds, frame_to_rows
from pipeport.errors import RawInputError
from pipeport.export.onnx_export import compare_with_sklearn, session
from pipeport.export.parity import compare, sklearn_outputs
from pipeport.schema import ModelSchema

KINDS = ["object", "str", "category", "category-int", "bool", "object-bool", "int", "float"]
WORDS = ["alpha", "beta", "gamma", "delta", "eps", "ζeta", "eta θ"]

ENCODERS = {
    "onehot-ignore": lambda: OneHotEncoder(handle_unknown="ignore"),
    "onehot-infrequent": lambda: OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=4
    ),
    "onehot-max-categories-drop": lambda: OneHotEncoder(
        handle_unknown="ignore", max_categories=3, drop="if_binary"
    ),
    "onehot-error": lambda: OneHotEncoder(handle_unknown="error"),
    "ordinal-unknown-value": lambda: OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-9
    ),
    "target": lambda: TargetEncoder(random_state=0),
    "impute-frequent-onehot": lambda: make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    ),
    "impute-constant-ordinal": lambda: make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
    ),
    "ordinal-nan-unknown": lambda: OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan
    ),
}
#: OrdinalEncoder with NaN for unknown values: a model that takes NaN must follow it.
NAN_OUTPUT = {"ordinal-nan-unknown"}


def column(kind: str, values: list[int], missing: list[bool], unseen: bool = False) -> pd.Series:
    """A column of `kind` from small integer codes (repeats are what encoders learn from)."""
    offset = 7 if unseen else 0  # codes a training column never held
    if kind in ("object", "str", "category"):
        words = [f"{WORDS[v % len(WORDS)]}{'-new' * unseen}" for v in values]
        data: list[Any] = [np.nan if m else w for w, m in zip(words, missing, strict=True)]
        if kind == "object":
            return pd.Series(data, dtype=object)
        if kind == "str":
            return pd.Series(data, dtype="str")
        return pd.Series(data).astype("category")
    if kind == "category-int":
        return pd.Series([v + offset for v in values]).astype("category")
    if kind == "bool":
        return pd.Series([bool(v % 2) for v in values])
    if kind == "object-bool":
        return pd.Series(
            [np.nan if m else bool(v % 2) for v, m in zip(values, missing, strict=True)],
            dtype=object,
        )
    if kind == "int":
        return pd.Series([v + offset for v in values], dtype="int64")
    return pd.Series(
        [np.nan if m else float(v + offset) / 2 for v, m in zip(values, missing, strict=True)]
    )


@st.composite
def frames(draw: Any, n_min: int = 30, n_max: int = 70) -> tuple[pd.DataFrame, list[str]]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
    n = draw(st.integers(n_min, n_max))
    data = {}
    for j, kind in enumerate(kinds):
        values = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
        missing = draw(st.lists(st.booleans().map(lambda b: b and True), min_size=n, max_size=n))
        missing = [m and draw(st.integers(0, 4)) == 0 for m in missing]
        data[f"c{j} {kind}"] = column(kind, values, missing)
    data["x"] = pd.Series(draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n)))
    return pd.DataFrame(data), [f"c{j} {k}" for j, k in enumerate(kinds)]


def fresh_rows(draw: Any, frame: pd.DataFrame, n: int = 40) -> pd.DataFrame:
    """Rows like `frame`'s: known values, unseen values and NaN in any column."""
    out = {}
    for name in frame.columns:
        if name == "x":
            out[name] = pd.Series(draw(st.lists(st.floats(-1e4, 1e4), min_size=n, max_size=n)))
            continue
        kind = name.split(" ", 1)[1]
        values = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
        missing = [draw(st.integers(0, 5)) == 0 for _ in range(n)]
        unseen = draw(st.booleans())
        out[name] = column(kind, values, missing, unseen=unseen and kind not in ("bool",))
    return pd.DataFrame(out)


def _fit(frame: pd.DataFrame, categorical: list[str], encoder: str, y: np.ndarray) -> Any:
    model = (
        HistGradientBoostingClassifier(max_iter=10, random_state=0)
        if encoder in NAN_OUTPUT
        else LogisticRegression(max_iter=500)
    )
    pipeline = make_pipeline(
        ColumnTransformer(
            [("cat", ENCODERS[encoder](), categorical), ("num", StandardScaler(), ["x"])]
        ),
        model,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pipeline.fit(frame, y)
        except (ValueError, TypeError):
            return None  # scikit-learn itself cannot fit this frame: nothing to export


SETTINGS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@SETTINGS
@given(data=st.data())
def test_random_frames_agree_through_graph_and_server(encoder: str, data: Any) -> None:
    frame, categorical = data.draw(frames())
    y = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=len(frame), max_size=len(frame))))
    assume(len(set(y)) == 2)
    pipeline = _fit(frame, categorical, encoder, y)
    assume(pipeline is not None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pipeport.to_onnx(pipeline, frame, "prop", generated_rows=300, seed=1)
    schema = ModelSchema.from_metadata(pipeport.read_metadata(model))

    rows = fresh_rows(data.draw, frame)
    try:
        frame_to_feeds(rows, schema)
        refused: list[int] = []
    except RawInputError as exc:
        refused = sorted({e.row for e in exc.errors if e.row is not None})
    for i in refused[:5]:  # what the contract refuses, scikit-learn refuses
        try:
            pipeline.predict(rows.iloc[[i]])
        except (ValueError, TypeError):
            continue
        raise AssertionError(
            f"the contract refuses row {i}, scikit-learn answers it: {rows.iloc[i]}"
        )
    admissible = rows.drop(index=refused).reset_index(drop=True)
    assume(len(admissible) > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compare_with_sklearn(pipeline, model, admissible, schema)
    assert report.passed, report.table()

    # the server: the same rows as JSON, as a client sends them
    from pipeport.serving.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(model.SerializeToString())
        response = (
            create_app(str(path))
            .test_client()
            .post("/v1/predict", json={"rows": frame_to_rows(admissible, schema)})
        )
    assert response.status_code == 200, response.data
    predictions = response.get_json()["predictions"]
    served = {
        "label": np.array([p["label"] for p in predictions]),
        "probabilities": np.array(
            [[p["probabilities"][str(c)] for c in schema.classes] for p in predictions]
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sklearn_outputs(pipeline, admissible, "classification")
    served_report = compare("classification", expected, served, admissible)
    assert served_report.passed, served_report.table()


def test_the_graph_fed_by_the_contract_equals_the_graph_fed_json_rows() -> None:
    """frame_to_feeds (the gate's and users' DataFrame path) and raw_rows_to_feeds of the JSON
    rows a client sends for the same frame (the server's path) build the same tensors."""
    from pipeport.contract import raw_rows_to_feeds

    frame = pd.DataFrame(
        {
            "t": pd.Series(["a", None, "b", "a"], dtype=object),
            "n": [1.0, np.nan, 3.5, -0.0],
            "b": [True, False, True, False],
            "k": pd.Series([1, 2, None, 2]).astype("category"),
            "o": pd.Series([True, np.nan, False, True], dtype=object),
        }
    )
    y = np.array([0, 1, 0, 1])
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                (
                    "t",
                    make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                    ["t"],
                ),
                ("k", OneHotEncoder(handle_unknown="ignore"), ["k", "o", "b"]),
                ("n", SimpleImputer(), ["n"]),
            ]
        ),
        LogisticRegression(),
    ).fit(frame, y)
    model = pipeport.to_onnx(pipeline, frame, "feeds", generated_rows=50)
    schema = ModelSchema.from_metadata(pipeport.read_metadata(model))
    direct = frame_to_feeds(frame, schema)
    via_json = raw_rows_to_feeds(frame_to_rows(frame, schema), schema)
    assert direct.keys() == via_json.keys()
    for name in direct:
        assert direct[name].dtype == via_json[name].dtype, name
        np.testing.assert_array_equal(direct[name], via_json[name])
    sess = session(model)
    assert np.array_equal(
        sess.run(["probabilities"], direct)[0], sess.run(["probabilities"], via_json)[0]
    )


def test_raw_columns_named_like_the_graphs_own_tensors_export():
    """A raw column may be called "label", "prediction", "k" or "coef": the graph's outputs and
    internal tensors never take a graph input's name."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "label": rng.random(200),
            "prediction": rng.random(200),
            "k": rng.random(200),
            "coef": pd.Series(rng.choice(["a", "b", "c"], 200), dtype=object),
            "probabilities": rng.random(200),
        }
    )
    y = (frame["label"] + frame["k"] > 1).astype(int)
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("n", StandardScaler(), ["label", "prediction", "k", "probabilities"]),
                ("c", OneHotEncoder(handle_unknown="ignore"), ["coef"]),
            ]
        ),
        LogisticRegression(),
    ).fit(frame, y)
    model = pipeport.to_onnx(pipeline, frame, "names", generated_rows=300)
    inputs = {i["name"]: i["onnx_name"] for i in pipeport.read_metadata(model)["inputs"]}
    assert inputs["label"] not in ("label", "probabilities", "prediction")
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
