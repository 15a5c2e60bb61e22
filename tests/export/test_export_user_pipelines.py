"""Pipelines as users write them, copied in shape from public examples (scikit-learn's Getting
Started and gallery, skl2onnx's documentation, a Kaggle-style Titanic notebook, a house-price
course), exported by `pipeport.to_onnx` and proven by `pipeport.check_parity`, a few of them in
every runtime (the real server, Node.js and a headless browser)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector, make_column_transformer
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)

import pipeport
from pipeport.export.support_cases import people

EVERY_RUNTIME = ["onnxruntime", "reference", "http", "node", "browser"]


def _titanic() -> pd.DataFrame:
    """people() with the Titanic gallery example's dtypes: pclass float64, sex/embarked category."""
    frame = people().copy()
    frame["pclass"] = frame["pclass"].astype(float)
    frame["sex"] = frame["sex"].astype("category")
    frame["embarked"] = frame["embarked"].astype("category")
    return frame


def getting_started():
    X, y = load_iris(return_X_y=True)  # numpy arrays: no column names
    return make_pipeline(StandardScaler(), LogisticRegression()), X, y


def gallery_mixed_types():
    """'Column Transformer with Mixed Types' (scikit-learn gallery)."""
    frame = _titanic()
    numeric_transformer = Pipeline(
        steps=[("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())]
    )
    categorical_transformer = Pipeline(
        steps=[
            ("encoder", OneHotEncoder(handle_unknown="ignore")),
            ("selector", SelectPercentile(chi2, percentile=50)),
        ]
    )
    preprocessor = ColumnTransformer(
        transformers=[
            ("num", numeric_transformer, ["age", "fare"]),
            ("cat", categorical_transformer, ["embarked", "sex", "pclass"]),
        ]
    )
    clf = Pipeline(steps=[("preprocessor", preprocessor), ("classifier", LogisticRegression())])
    return clf, frame.drop(columns=["survived", "town", "spend"]), frame["survived"]


def gallery_mixed_types_selectors():
    """The same example's second form: columns chosen by make_column_selector."""
    frame = _titanic()[["age", "fare", "embarked", "sex", "pclass", "survived"]]
    preprocessor = ColumnTransformer(
        transformers=[
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                make_column_selector(dtype_exclude="category"),
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore"),
                make_column_selector(dtype_include="category"),
            ),
        ]
    )
    X = frame.drop(columns=["survived"])
    return make_pipeline(preprocessor, LogisticRegression()), X, frame["survived"]


def skl2onnx_column_transformer():
    """skl2onnx's 'Convert a pipeline with ColumnTransformer' (Titanic)."""
    frame = people()
    numeric = Pipeline(
        steps=[("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())]
    )
    categorical = Pipeline(
        steps=[
            ("imputer", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocessor = ColumnTransformer(
        transformers=[
            ("num", numeric, ["age", "fare"]),
            ("cat", categorical, ["embarked", "sex", "pclass"]),
        ]
    )
    clf = Pipeline(
        steps=[("preprocessor", preprocessor), ("classifier", LogisticRegression(solver="lbfgs"))]
    )
    return clf, frame.drop(columns=["survived", "town", "spend"]), frame["survived"]


def kaggle_titanic():
    frame = people()
    features = ["pclass", "sex", "age", "sibsp", "fare", "embarked", "alone"]
    preprocess = make_column_transformer(
        (SimpleImputer(strategy="median"), ["age", "fare"]),
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            ["embarked"],
        ),
        (OneHotEncoder(handle_unknown="ignore"), ["sex", "pclass"]),
        remainder="passthrough",
    )
    model = make_pipeline(preprocess, RandomForestClassifier(n_estimators=50, random_state=1))
    return model, frame[features], frame["survived"]


def house_prices_course():
    """The deployment course's house-price pipeline, in scikit-learn steps (target logged)."""
    frame = people()
    cat = ["embarked", "title", "deck"]
    num = ["age", "fare", "sibsp"]
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="Missing"),
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ),
                cat,
            ),
            ("numerical", SimpleImputer(strategy="mean", add_indicator=True), num),
        ]
    )
    model = Pipeline(
        [("prep", preprocess), ("scale", MinMaxScaler()), ("lasso", Lasso(alpha=0.001))]
    )
    return model, frame[cat + num], np.log(frame["spend"].clip(lower=1))


def gallery_categorical_gradient_boosting():
    """'Categorical Feature Support in Gradient Boosting', the ordinal-encoding variant."""
    frame = people()
    categorical = ["title", "deck", "embarked", "sex"]
    ordinal = make_column_transformer(
        (
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
            make_column_selector(dtype_include=["category", "object", "str"]),
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    model = make_pipeline(ordinal, HistGradientBoostingRegressor(max_iter=40, random_state=42))
    return model, frame[categorical + ["age", "fare", "sibsp"]], frame["spend"]


def gallery_target_encoder():
    frame = people()
    X = frame[["title", "deck", "embarked", "age", "fare"]]
    model = make_pipeline(
        make_column_transformer(
            (TargetEncoder(random_state=0), ["title", "deck", "embarked"]),
            remainder=SimpleImputer(),
        ),
        LogisticRegression(),
    )
    return model, X, frame["town"]


PIPELINES = {
    "getting-started-iris-arrays": getting_started,
    "gallery-mixed-types": gallery_mixed_types,
    "gallery-mixed-types-selectors": gallery_mixed_types_selectors,
    "skl2onnx-column-transformer": skl2onnx_column_transformer,
    "kaggle-titanic": kaggle_titanic,
    "house-prices-course": house_prices_course,
    "gallery-categorical-gradient-boosting": gallery_categorical_gradient_boosting,
    "gallery-target-encoder": gallery_target_encoder,
}


@pytest.fixture(scope="module", params=sorted(PIPELINES))
def exported(request):
    pipeline, X, y = PIPELINES[request.param]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(X, y)
        model = pipeport.to_onnx(pipeline, X, request.param, generated_rows=2000)
    return request.param, pipeline, X, model


def test_users_pipeline_exports_and_agrees_in_python_runtimes(exported):
    name, pipeline, X, model = exported
    assert pipeport.read_metadata(model)["parity"]["passed"], name
    run = pipeport.check_parity(pipeline, model, X, runtimes=["onnxruntime", "reference"])
    assert {o.runtime: o.status for o in run.outcomes} == {
        "sklearn": "passed",
        "onnxruntime": "passed",
        "reference": "passed",
    } | ({"contract": "passed"} if any(o.runtime == "contract" for o in run.outcomes) else {})


@pytest.mark.parametrize(
    "name", ["kaggle-titanic", "gallery-target-encoder", "house-prices-course"]
)
def test_users_pipeline_agrees_in_every_runtime(name, tmp_path):
    pipeline, X, y = PIPELINES[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(X, y)
        model = pipeport.to_onnx(pipeline, X, name, generated_rows=500)
    run = pipeport.check_parity(
        pipeline, model, X.head(150), runtimes=EVERY_RUNTIME, report_dir=tmp_path
    )
    statuses = {o.runtime: o.status for o in run.outcomes}
    assert {"onnxruntime", "reference", "http", "http-v2", "node", "browser"} <= set(statuses)
    assert set(statuses.values()) == {"passed"}
    assert (tmp_path / "report.html").exists()


def test_pandas_json_records_are_accepted_as_rows(exported):
    """The rows pandas writes (`to_json(orient="records")`: true, false, 3 in any column) are
    what a client sends: the server answers them as scikit-learn does."""
    import tempfile
    from pathlib import Path

    from pipeport.serving.app import create_app

    name, pipeline, X, model = exported
    meta = pipeport.read_metadata(model)
    if isinstance(X, pd.DataFrame):
        head, frame = X.head(40), X.head(40)
    else:  # fitted on arrays: the contract names the columns x0, x1, ...
        head = X[:40]
        frame = pd.DataFrame(head, columns=[i["name"] for i in meta["inputs"]])
    body = '{"rows": ' + frame.to_json(orient="records", double_precision=15) + "}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(model.SerializeToString())
        response = (
            create_app(str(path))
            .test_client()
            .post("/v1/predict", data=body, content_type="application/json")
        )
    assert response.status_code == 200, response.data
    predictions = json.loads(response.data)["predictions"]
    if meta["task"] == "classification":
        expected = pipeline.predict_proba(head)
        got = np.array([[p["probabilities"][str(c)] for c in meta["classes"]] for p in predictions])
        assert np.abs(expected - got).max() <= 1e-9, name
    else:
        expected = pipeline.predict(head)
        got = np.array([p["prediction"] for p in predictions])
        assert np.abs(expected - got).max() <= 1e-9 * np.abs(expected).max(), name
