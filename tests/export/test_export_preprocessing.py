"""Each supported preprocessing step, in a hand-built pipeline, exports with parity: the gate
passes on 2,000 generated rows and onnxruntime, fed per the contract, agrees with scikit-learn on
rows with missing values, unseen categories and far-out numbers."""

from __future__ import annotations

import export_testkit as kit
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from pipeport.export.onnx_export import read_metadata, to_onnx
from pipeport.research.steps import MissingCategory

NUMERIC = kit.PENGUIN_NUMERIC
CATEGORICAL = kit.PENGUIN_CATEGORICAL


def _pipeline(numeric, select=None, model=None):
    steps = [
        (
            "preprocess",
            ColumnTransformer(
                [
                    ("numeric", Pipeline(numeric), NUMERIC),
                    (
                        "categorical",
                        Pipeline(
                            [
                                ("missing", MissingCategory()),
                                (
                                    "onehot",
                                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                ),
                            ]
                        ),
                        CATEGORICAL,
                    ),
                ]
            ),
        )
    ]
    if select is not None:
        steps.append(("select", select))
    steps.append(("model", model or LogisticRegression(max_iter=1000)))
    return Pipeline(steps)


def _imputed(strategy, **kwargs):
    return [("impute", SimpleImputer(strategy=strategy, **kwargs)), ("scale", StandardScaler())]


CASES = {
    "impute-median": _pipeline(_imputed("median")),
    "impute-mean": _pipeline(_imputed("mean")),
    "impute-most_frequent": _pipeline(_imputed("most_frequent")),
    "impute-constant": _pipeline(_imputed("constant", fill_value=-1.0)),
    "scaler-no-mean": _pipeline(
        [("impute", SimpleImputer()), ("scale", StandardScaler(with_mean=False))]
    ),
    "scaler-no-std-tree": _pipeline(
        [("impute", SimpleImputer()), ("scale", StandardScaler(with_std=False))],
        model=DecisionTreeClassifier(random_state=0),
    ),
    "select-k-best": _pipeline(_imputed("median"), select=SelectKBest(f_classif, k=4)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_supported_preprocessing_matches_sklearn(case):
    frame = pd.read_csv(kit.PENGUINS)
    pipeline = CASES[case].fit(frame, frame["species"])
    model = to_onnx(pipeline, frame, case, generated_rows=2_000)
    meta = read_metadata(model)
    assert meta["parity"]["passed"] is True
    rows = frame[NUMERIC + CATEGORICAL]
    stress = kit.stress_rows(rows, CATEGORICAL, 1_000, seed=3)
    test_rows = pd.concat([rows.astype(object), stress], ignore_index=True)
    outputs = kit.ort_session(model).run(
        ["label", "probabilities"], kit.contract_feeds(meta, test_rows)
    )
    kit.assert_matches_sklearn(pipeline, "classification", test_rows, outputs)
