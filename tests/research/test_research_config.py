"""Config validation: every kind of mistake in a training config gets its own clear message."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from pipeport.research.config import load_config
from pipeport.research.errors import ConfigError

ALL_ESTIMATORS = (
    "decision_tree, elastic_net, extra_trees, gradient_boosting, hist_gradient_boosting, knn, "
    "lasso, lightgbm, linear_regression, logistic_regression, mlp, random_forest, ridge, xgboost"
)
CLASSIFICATION_ESTIMATORS = (
    "decision_tree, extra_trees, gradient_boosting, hist_gradient_boosting, knn, lightgbm, "
    "logistic_regression, mlp, random_forest, xgboost"
)
REGRESSION_ESTIMATORS = (
    "decision_tree, elastic_net, extra_trees, gradient_boosting, hist_gradient_boosting, knn, "
    "lasso, lightgbm, linear_regression, mlp, random_forest, ridge, xgboost"
)


@pytest.fixture
def config_error(write_project, config_helpers):
    """config_error(mutate) -> the ConfigError message for base_config() changed by `mutate`."""

    def _error(mutate) -> str:
        doc = config_helpers.base_config()
        mutate(doc)
        path = write_project(config=doc)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        return str(caught.value)

    return _error


def _set(section: str | None, key: str, value: Any):
    def mutate(doc: dict[str, Any]) -> None:
        (doc if section is None else doc[section])[key] = value

    return mutate


def _delete(section: str | None, key: str):
    def mutate(doc: dict[str, Any]) -> None:
        del (doc if section is None else doc[section])[key]

    return mutate


def test_valid_config_loads_with_paths_resolved_and_file_hash(write_project, config_helpers):
    doc = config_helpers.base_config(
        estimator="random_forest", params={"n_estimators": 7}, seed=5, test_fraction=0.3
    )
    doc["data"]["sha256"] = "AB" * 32
    path = write_project(config=doc)
    config = load_config(path)
    assert config.name == "test-model"
    assert config.data.path == (path.parent / "data.csv").resolve()
    assert config.data.target == "target"
    assert config.data.sha256 == "ab" * 32  # upper case accepted, stored lower case
    assert config.features.numeric == tuple(config_helpers.NUMERIC)
    assert config.features.categorical == tuple(config_helpers.CATEGORICAL)
    assert config.model.params == {"n_estimators": 7}
    assert (config.split.seed, config.split.test_fraction) == (5, 0.3)
    assert config.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_split_section_is_optional_with_documented_defaults(write_project, config_helpers):
    doc = config_helpers.base_config()
    del doc["split"]
    config = load_config(write_project(config=doc))
    assert (config.split.test_fraction, config.split.seed, config.split.stratify) == (0.2, 0, None)


def test_unknown_top_level_key_is_named_with_valid_keys(config_error):
    message = config_error(_set(None, "colour", "blue"))
    assert message == (
        "unknown key 'colour' in the top level. "
        "Valid keys: data, features, model, name, split, steps, version."
    )


def test_misspelt_top_level_key_suggests_the_right_one(config_error):
    message = config_error(_set(None, "nmae", "x"))
    assert "unknown key 'nmae' in the top level. Did you mean 'name'?" in message


@pytest.mark.parametrize(
    ("section", "typo", "meant"),
    [
        ("data", "tagret", "target"),
        ("features", "numerical", "numeric"),
        ("model", "estimater", "estimator"),
        ("split", "test_fracton", "test_fraction"),
    ],
)
def test_unknown_key_in_section_suggests_the_right_one(config_error, section, typo, meant):
    message = config_error(_set(section, typo, "x"))
    assert message.startswith(f"unknown key '{typo}' in [{section}]. Did you mean '{meant}'?")
    assert "Valid keys: " in message


def test_unknown_estimator_lists_every_valid_estimator(config_error):
    message = config_error(_set("model", "estimator", "catboost"))
    assert message == f"unknown estimator 'catboost'. Valid estimators: {ALL_ESTIMATORS}"


def test_regression_only_estimator_for_classification_lists_classifiers(config_error):
    message = config_error(_set("model", "estimator", "linear_regression"))
    assert message == (
        "estimator 'linear_regression' has no classification variant. "
        f"Valid classification estimators: {CLASSIFICATION_ESTIMATORS}"
    )


def test_classification_only_estimator_for_regression_lists_regressors(config_error):
    def mutate(doc):
        doc["model"].update(task="regression", estimator="logistic_regression")

    assert config_error(mutate) == (
        "estimator 'logistic_regression' has no regression variant. "
        f"Valid regression estimators: {REGRESSION_ESTIMATORS}"
    )


def test_bad_param_name_suggests_and_lists_valid_params(config_error):
    def mutate(doc):
        doc["model"].update(estimator="random_forest", params={"n_estimator": 5})

    message = config_error(mutate)
    assert message.startswith(
        "[model.params] 'n_estimator' is not a parameter of RandomForestClassifier. "
        "Did you mean 'n_estimators'? Valid parameters: "
    )
    listed = message.split("Valid parameters: ", 1)[1].split(", ")
    for param in ("max_depth", "n_estimators", "random_state", "min_samples_leaf"):
        assert param in listed
    assert "n_estimator" not in listed
    assert listed == sorted(listed)


def test_param_of_the_other_task_variant_is_rejected(config_error):
    # `alpha` (the quantile) exists on GradientBoostingRegressor only
    def mutate(doc):
        doc["model"].update(estimator="gradient_boosting", params={"alpha": 0.5})

    message = config_error(mutate)
    assert "'alpha' is not a parameter of GradientBoostingClassifier" in message


def test_params_that_is_not_a_table_is_rejected(config_error):
    assert config_error(_set("model", "params", 5)) == "[model.params] must be a table"


def test_bad_task_lists_the_valid_tasks(config_error):
    message = config_error(_set("model", "task", "clustering"))
    assert message == (
        "[model] task 'clustering' is not valid; choose one of: classification, regression"
    )


@pytest.mark.parametrize("fraction", [0, 1, 0.0, 1.0, -0.1, 1.5, "0.2", True])
def test_test_fraction_outside_zero_one_is_rejected(config_error, fraction):
    message = config_error(_set("split", "test_fraction", fraction))
    assert message == (f"[split] test_fraction must be a number between 0 and 1, got {fraction!r}")


@pytest.mark.parametrize(("seed"), [-1, 1.5, "42", True])
def test_bad_seed_is_rejected(config_error, seed):
    message = config_error(_set("split", "seed", seed))
    assert message == f"[split] seed must be a non-negative integer, got {seed!r}"


def test_non_boolean_stratify_is_rejected(config_error):
    message = config_error(_set("split", "stratify", "yes"))
    assert message == "[split] stratify must be true or false, got 'yes'"


@pytest.mark.parametrize(
    "pin",
    ["abc", "a" * 63, "a" * 65, "g" * 64, "0x" + "a" * 62, " " + "a" * 63, 12345],
    ids=["short", "63", "65", "non-hex", "0x-prefix", "space", "integer"],
)
def test_malformed_sha256_pin_is_rejected(config_error, pin):
    message = config_error(_set("data", "sha256", pin))
    assert message == "[data] sha256 must be 64 hexadecimal characters"


@pytest.mark.parametrize("section", ["data", "features", "model"])
def test_missing_required_section_is_named(config_error, section):
    assert config_error(_delete(None, section)) == f"missing section [{section}]"


@pytest.mark.parametrize(
    ("section", "key", "where"),
    [
        (None, "name", "the top level"),
        ("data", "path", "[data]"),
        ("data", "target", "[data]"),
        ("model", "task", "[model]"),
        ("model", "estimator", "[model]"),
    ],
)
def test_missing_required_key_is_named(config_error, section, key, where):
    assert config_error(_delete(section, key)) == f"missing required key '{key}' in {where}"


def test_section_given_as_value_instead_of_table_is_rejected(config_error):
    assert config_error(_set(None, "data", "data.csv")) == (
        "'data' must be a table ([data]), got str"
    )


def test_features_with_no_columns_is_rejected(config_error):
    def mutate(doc):
        doc["features"] = {"numeric": [], "categorical": []}

    assert config_error(mutate) == "[features] lists no columns: give numeric and/or categorical"


def test_column_both_numeric_and_categorical_is_named(config_error):
    def mutate(doc):
        doc["features"]["categorical"].append("größe")

    assert config_error(mutate) == "column(s) both numeric and categorical: größe"


def test_column_listed_twice_is_named(config_error):
    def mutate(doc):
        doc["features"]["numeric"].append("flag")

    assert config_error(mutate) == "column(s) listed twice in [features] numeric: flag"


def test_feature_list_of_non_strings_is_rejected(config_error):
    assert config_error(_set("features", "numeric", [1, 2])) == (
        "'numeric' in [features] must be a list of column names (strings)"
    )


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_target_listed_as_a_feature_is_rejected(config_error, kind):
    def mutate(doc):
        doc["features"][kind].append("target")

    assert config_error(mutate) == "the target 'target' is also listed as a feature"


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_select_k_best_must_be_a_positive_integer(config_error, k):
    message = config_error(_set("features", "select_k_best", k))
    assert message == f"[features] select_k_best must be a positive integer, got {k!r}"


def test_data_file_with_unsupported_extension_is_rejected(config_error):
    message = config_error(_set("data", "path", "data.xlsx"))
    assert message == (
        "[data] path 'data.xlsx' has an unsupported extension; use one of .csv, .parquet, .pq"
    )


def test_version_must_be_string_or_integer(config_error):
    assert config_error(_set(None, "version", 1.5)) == (
        "'version' must be a string or an integer, got 1.5"
    )


def test_non_toml_file_is_reported_as_not_valid_toml(write_project, make_frame):
    # the most likely mix-up: the data file given where the config belongs
    path = write_project()
    csv_path = path.parent / "data.csv"
    with pytest.raises(ConfigError, match=r"data\.csv is not valid TOML: ") as caught:
        load_config(csv_path)
    assert "\n" not in str(caught.value)


def test_binary_file_is_reported_as_not_utf8(tmp_path: Path):
    path = tmp_path / "model.toml"
    path.write_bytes(b"\x80\x81\xfe\xff name = 1")
    with pytest.raises(ConfigError, match=r"model\.toml is not UTF-8 text"):
        load_config(path)


def test_missing_config_file_is_named(tmp_path: Path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"config file not found: {missing}"


def test_directory_given_as_config_is_rejected(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"config path is a directory, not a file: {tmp_path}"
