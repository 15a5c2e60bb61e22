"""Training: determinism, the split, and what the artifacts record."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from pipeport.research.config import load_config
from pipeport.research.errors import DataError
from pipeport.research.train import train

STOCHASTIC = [
    ("random_forest", "classification", {"n_estimators": 5}),
    ("extra_trees", "classification", {"n_estimators": 5}),
    ("gradient_boosting", "classification", {"n_estimators": 5, "subsample": 0.7}),
    ("hist_gradient_boosting", "classification", {"max_iter": 5}),
    ("mlp", "classification", {"max_iter": 30, "hidden_layer_sizes": [8]}),
    ("decision_tree", "classification", {"max_features": 3}),
    ("logistic_regression", "classification", {}),
    ("random_forest", "regression", {"n_estimators": 5}),
    ("gradient_boosting", "regression", {"n_estimators": 5, "subsample": 0.7}),
    ("mlp", "regression", {"max_iter": 30, "hidden_layer_sizes": [8]}),
    ("elastic_net", "regression", {"selection": "random"}),
]


def _quiet(message: str) -> None:
    pass


def _train(config_path, out):
    return train(load_config(config_path), out, log=_quiet)


@pytest.mark.parametrize(
    ("estimator", "task", "params"), STOCHASTIC, ids=[f"{e}-{t}" for e, t, _ in STOCHASTIC]
)
def test_training_twice_gives_identical_predictions_metrics_and_artifacts(
    write_project, make_frame, config_helpers, tmp_path, estimator, task, params
):
    kind = "many_classes" if task == "classification" else "regression"
    doc = config_helpers.base_config(task=task, estimator=estimator, params=params, seed=7)
    path = write_project(config=doc, frame=make_frame(target_kind=kind))
    first, second = _train(path, tmp_path / "a"), _train(path, tmp_path / "b")
    raw = pd.read_csv(tmp_path / "data.csv")
    a = joblib.load(tmp_path / "a" / "sklearn_pipeline.joblib")
    b = joblib.load(tmp_path / "b" / "sklearn_pipeline.joblib")
    if task == "classification":
        assert np.array_equal(a.predict_proba(raw), b.predict_proba(raw))
    else:
        assert np.array_equal(a.predict(raw), b.predict(raw))
    assert first.metrics == second.metrics
    for name in ("metrics.json", "holdout.csv", "train_manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seeds_give_a_different_split_and_model(write_project, config_helpers, tmp_path):
    outputs = []
    for seed in (0, 1):
        doc = config_helpers.base_config(
            estimator="random_forest", params={"n_estimators": 5}, seed=seed
        )
        result = _train(write_project(config=doc), tmp_path / f"seed{seed}")
        assert result.manifest["seeds"] == {"split": seed, "estimator_random_state": seed}
        assert result.pipeline[-1].random_state == seed
        holdout = pd.read_csv(tmp_path / f"seed{seed}" / "holdout.csv")
        outputs.append((set(holdout["body.mass"]), result.pipeline))
    (held_0, model_0), (held_1, model_1) = outputs
    assert held_0 != held_1
    raw = pd.read_csv(tmp_path / "data.csv")
    assert not np.array_equal(model_0.predict_proba(raw), model_1.predict_proba(raw))


def test_random_state_in_params_overrides_the_seed_for_the_estimator_only(
    write_project, config_helpers, tmp_path
):
    doc = config_helpers.base_config(
        estimator="random_forest", params={"n_estimators": 5, "random_state": 9}, seed=4
    )
    result = _train(write_project(config=doc), tmp_path / "out")
    assert result.pipeline[-1].random_state == 9
    manifest = json.loads((tmp_path / "out" / "train_manifest.json").read_text())
    assert manifest["seeds"] == {"split": 4, "estimator_random_state": 9}


def test_estimator_without_random_state_records_none(
    write_project, make_frame, config_helpers, tmp_path
):
    doc = config_helpers.base_config(task="regression", estimator="knn")
    path = write_project(config=doc, frame=make_frame(target_kind="regression"))
    result = _train(path, tmp_path / "out")
    assert result.manifest["seeds"] == {"split": 0, "estimator_random_state": None}


def test_classification_split_is_stratified_when_every_class_allows(
    write_project, config_helpers, tmp_path
):
    # 12 classes x 10 rows, 30 held out: stratified, every class is held out 2 or 3 times
    # (a plain random split of 30 rows misses some class about half the time)
    result = _train(write_project(config=config_helpers.base_config(seed=5)), tmp_path / "out")
    holdout = pd.read_csv(tmp_path / "out" / "holdout.csv")
    counts = holdout["target"].value_counts()
    assert len(holdout) == 30
    assert len(counts) == 12 and counts.min() >= 2 and counts.max() <= 3
    assert result.manifest["split_note"] is None


def test_split_falls_back_to_random_when_a_class_has_one_row(
    write_project, make_frame, config_helpers, tmp_path
):
    frame = make_frame()
    frame.loc[0, "target"] = "lonely"
    messages = []
    config = load_config(write_project(frame=frame))
    result = train(config, tmp_path / "out", log=messages.append)
    assert result.manifest["split_note"] == "split not stratified: some class has fewer than 2 rows"
    assert result.manifest["split_note"] in messages


def test_forced_stratify_with_a_one_row_class_is_a_data_error(
    write_project, make_frame, config_helpers, tmp_path
):
    frame = make_frame()
    frame.loc[0, "target"] = "lonely"
    doc = config_helpers.base_config()
    doc["split"]["stratify"] = True
    with pytest.raises(DataError, match="stratify = true"):
        _train(write_project(config=doc, frame=frame), tmp_path / "out")


def test_missing_targets_are_dropped_counted_and_logged(write_project, make_frame, tmp_path):
    frame = make_frame()
    target = frame["target"].astype(object)
    target[[1, 2, 3, 4, 5]] = None
    frame["target"] = target
    messages = []
    result = train(load_config(write_project(frame=frame)), tmp_path / "out", log=messages.append)
    data = result.manifest["data"]
    assert (data["rows_read"], data["rows_missing_target"], data["rows_used"]) == (120, 5, 115)
    assert data["rows_train"] + data["rows_test"] == 115
    assert data["rows_test"] == 29  # ceil(0.25 * 115)
    holdout = pd.read_csv(tmp_path / "out" / "holdout.csv")
    assert holdout["target"].notna().all()
    assert any("dropped 5 with a missing target" in m for m in messages)


@pytest.mark.parametrize(("k", "expected_k"), [(5, 5), (100, 17)])
def test_select_k_best_keeps_k_encoded_columns_at_most_all(
    write_project, config_helpers, tmp_path, k, expected_k
):
    # 17 encoded columns: 4 numeric + island (3 + "") + année 3 + is.adult 2 + zone (3 + "")
    doc = config_helpers.base_config(estimator="logistic_regression")
    doc["features"]["select_k_best"] = k
    result = _train(write_project(config=doc), tmp_path / "out")
    assert result.pipeline.named_steps["select"].k == expected_k
    assert result.pipeline[-1].n_features_in_ == expected_k


def test_all_missing_numeric_column_in_training_still_trains_and_predicts(
    write_project, make_frame, tmp_path
):
    frame = make_frame()
    frame["größe"] = np.nan
    result = _train(write_project(frame=frame), tmp_path / "out")
    schema = {f["name"]: f for f in result.manifest["features"]}
    assert schema["größe"]["missing"] == 120 - result.manifest["data"]["rows_test"]
    assert schema["größe"]["min"] is None and schema["größe"]["max"] is None
    raw = pd.read_csv(tmp_path / "data.csv")
    assert result.pipeline.predict_proba(raw).shape == (120, 12)
