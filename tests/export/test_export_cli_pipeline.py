"""The command line for a pipeline trained anywhere: `pipeport export --pipeline`, `pipeport parity
--pipeline`, then `pipeport predict` and the server on the same raw file; and
`pipeport.check_parity`, one line in a user's CI, failing with the worst rows."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import warnings
from pathlib import Path

import export_testkit as kit
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import pipeport
from pipeport.export.support_cases import people


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A churn-like pipeline trained in a user's notebook, saved with joblib, and its raw CSV."""
    folder = tmp_path_factory.mktemp("notebook")
    frame = people()
    raw = frame.drop(columns=["survived", "town", "spend"])
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                (
                    "num",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    ["age", "fare"],
                ),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    ["embarked", "sex", "pclass", "vip"],
                ),
            ]
        ),
        LogisticRegression(),
    ).fit(raw, frame["survived"])
    joblib.dump(pipeline, folder / "churn.joblib")
    raw.to_csv(folder / "raw.csv", index=False)
    return folder


def test_export_pipeline_writes_name_onnx_beside_it_and_is_byte_identical(trained, capsys):
    args = [
        "export",
        "--pipeline",
        str(trained / "churn.joblib"),
        "--sample",
        str(trained / "raw.csv"),
    ]
    assert kit.run_cli(*args, "--name", "churn", "--rows", "500") == 0
    first = (trained / "churn.onnx").read_bytes()
    assert "parity PASSED" in capsys.readouterr().out
    other = trained / "again.onnx"
    assert kit.run_cli(*args, "--name", "churn", "--rows", "500", "--out", str(other)) == 0
    assert hashlib.sha256(other.read_bytes()).digest() == hashlib.sha256(first).digest()
    meta = pipeport.read_metadata(trained / "churn.onnx")
    assert meta["name"] == "churn" and meta["unused_columns"] == [
        "deck",
        "grade",
        "alone",
        "sibsp",
        "title",
        "name",
    ]


def test_export_pipeline_help_warns_that_joblib_runs_code(capsys):
    with pytest.raises(SystemExit):
        kit.run_cli("export", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "--pipeline FILE.joblib" in text and "runs the Python code pickled" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pipeline", "nope.joblib", "--sample", "raw.csv"], "nope.joblib not found"),
        (["--pipeline", "churn.joblib"], "--pipeline needs --sample"),
        (["--pipeline", "raw.csv", "--sample", "raw.csv"], "not a joblib file"),
        (["DIR", "--pipeline", "churn.joblib", "--sample", "raw.csv"], "either DIR or --pipeline"),
        ([], "give DIR"),
    ],
)
def test_export_pipeline_mistakes_are_one_line_errors(trained, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(trained)
    assert kit.run_cli("export", *args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_parity_pipeline_runs_and_reports_beside_the_model(trained, capsys):
    assert (
        kit.run_cli(
            "export",
            "--pipeline",
            str(trained / "churn.joblib"),
            "--sample",
            str(trained / "raw.csv"),
            "--name",
            "churn",
            "--rows",
            "300",
        )
        == 0
    )
    code = kit.run_cli(
        "parity",
        "--pipeline",
        str(trained / "churn.joblib"),
        "--model",
        str(trained / "churn.onnx"),
        "--data",
        str(trained / "raw.csv"),
        "--runtimes",
        "sklearn,onnxruntime,reference",
        "--property-rows",
        "50",
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "parity PASSED" in out
    report = json.loads((trained / "churn-parity" / "report.json").read_text())
    assert report["passed"] and report["sources"]["raw.csv"] == len(people())


def test_predict_scores_the_raw_training_file_as_scikit_learn(trained, tmp_path):
    """The raw CSV, unused columns and all, scores as the pipeline scores the DataFrame."""
    assert (
        kit.run_cli(
            "export",
            "--pipeline",
            str(trained / "churn.joblib"),
            "--sample",
            str(trained / "raw.csv"),
            "--name",
            "churn",
            "--rows",
            "0",
        )
        == 0
    )
    out = tmp_path / "preds.csv"
    assert (
        kit.run_cli(
            "predict",
            str(trained / "churn.onnx"),
            "--input",
            str(trained / "raw.csv"),
            "--output",
            str(out),
            "--progress",
            "never",
        )
        == 0
    )
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    got = np.array([[float(r["probability_0"]), float(r["probability_1"])] for r in rows])
    expected = joblib.load(trained / "churn.joblib").predict_proba(pd.read_csv(trained / "raw.csv"))
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= kit.PROBA_ATOL


def test_check_parity_raises_parity_error_naming_the_worst_rows(trained):
    pipeline = joblib.load(trained / "churn.joblib")
    raw = pd.read_csv(trained / "raw.csv")
    model = pipeport.to_onnx(pipeline, raw, "churn", generated_rows=200)
    run = pipeport.check_parity(pipeline, model, raw.head(50))
    assert run.passed and {o.runtime for o in run.outcomes} >= {
        "sklearn",
        "onnxruntime",
        "reference",
    }
    corrupted = copy.deepcopy(pipeline)
    corrupted[-1].intercept_[0] += 0.01
    with warnings.catch_warnings(), pytest.raises(pipeport.ParityError) as caught:
        warnings.simplefilter("ignore")
        pipeport.check_parity(corrupted, model, raw.head(50))
    message = str(caught.value)
    assert (
        "parity FAILED" in message and "worst rows" in message and "onnxruntime: FAILED" in message
    )
    assert caught.value.report.passed is False


def test_check_parity_refuses_an_unknown_runtime(trained):
    pipeline = joblib.load(trained / "churn.joblib")
    with pytest.raises(ValueError, match="unknown runtime"):
        pipeport.check_parity(
            pipeline, trained / "churn.onnx", pd.read_csv(trained / "raw.csv"), runtimes=["jvm"]
        )
