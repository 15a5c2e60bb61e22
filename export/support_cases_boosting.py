"""Support cases for LightGBM and XGBoost: each objective pipeport exports, missing values of
every kind, categorical splits (pandas category columns handed straight to the model, and
encoded text declared categorical), hundreds of trees, inside the pipelines users write.

Each case's `corrupt` moves one learned value of the model itself: a leaf value (LightGBM's
`set_leaf_output`; an edited XGBoost model) or a split threshold (an edited model text or JSON),
in the first tree, where rows certainly pass. The gate must then see the graph disagree.
Cases are listed only when both libraries import (the boosting extra).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from pipeport.export.support_cases import Case

NUMBERS = ["age", "fare", "pclass", "sibsp", "alone"]  # age has NaN, sibsp zeros, alone bool
TEXT = ["sex", "embarked", "title"]
CATEGORIES = ["deck", "grade"]  # pandas category columns (text with NaN, integers)


@dataclass(frozen=True)
class FitParamsCase(Case):
    """A case whose pipeline is fitted with fit parameters (`model__categorical_feature=...`)."""

    fit_params: tuple[tuple[str, Any], ...] = ()

    def fit(self) -> Any:
        frame = self.frame()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.build().fit(
                self.features().loc[frame.index], frame[self.target], **dict(self.fit_params)
            )


def _pandas_frame() -> ColumnTransformer:
    """Numbers as they are, text ordinal-encoded (NaN for missing and unseen), the category
    columns passed through: a DataFrame whose deck and grade are pandas categories."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    return ColumnTransformer(
        [
            ("num", "passthrough", NUMBERS),
            ("text", encoder, TEXT),
            ("cats", "passthrough", CATEGORIES),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def _encoded() -> ColumnTransformer:
    """Numbers imputed, text one-hot: the shape of pipeport's own training pipeline."""
    return ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), NUMBERS),
            ("cat", OneHotEncoder(handle_unknown="ignore"), TEXT + CATEGORIES),
        ]
    )


def _numbers_only() -> ColumnTransformer:
    """Numbers passed through with their missing values and zeros, text ordinal-encoded."""
    return ColumnTransformer(
        [
            ("num", "passthrough", NUMBERS),
            ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), TEXT),
        ]
    )


# -- corruptions ------------------------------------------------------------------------------


def lgbm_leaf(delta: float = 0.5) -> Callable[[Any], None]:
    """Add `delta` to the leaf of the first tree that the most training rows reach."""

    def corrupt(pipeline: Any) -> None:
        booster = pipeline[-1].booster_
        root = booster.dump_model()["tree_info"][0]["tree_structure"]
        leaves, stack = [], [root]
        while stack:
            node = stack.pop()
            if "leaf_value" in node:
                leaves.append(node)
            else:
                stack.extend((node["left_child"], node["right_child"]))
        biggest = max(leaves, key=lambda leaf: leaf.get("leaf_count", 0))
        booster.set_leaf_output(0, biggest.get("leaf_index", 0), biggest["leaf_value"] + delta)

    return corrupt


def lgbm_threshold() -> Callable[[Any], None]:
    """Move the first numerical split of the first tree by half its magnitude (at least 0.5)."""

    def corrupt(pipeline: Any) -> None:
        import lightgbm

        model = pipeline[-1]
        text = model.booster_.model_to_string()
        start = text.index("Tree=0\n")
        end = text.index("\n\n", start)
        block = text[start:end]
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        kinds = [int(k) for k in fields["decision_type"].split()]
        thresholds = fields["threshold"].split()
        i = next(k for k, kind in enumerate(kinds) if not kind & 1)  # bit 0: categorical
        value = float(thresholds[i])
        thresholds[i] = repr(value + max(abs(value), 1.0) * 0.5)
        edited = re.sub(r"(?m)^threshold=.*$", "threshold=" + " ".join(thresholds), block, count=1)
        # tree_sizes gives each tree's length in bytes; without it LightGBM reads tree by tree
        model_text = re.sub(r"(?m)^tree_sizes=.*\n", "", text[:start] + edited + text[end:])
        model._Booster = lightgbm.Booster(model_str=model_text)

    return corrupt


def _xgb_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Any], None]:
    """Edit the first tree of the model's JSON and load it back into the estimator."""

    def corrupt(pipeline: Any) -> None:
        import xgboost

        model = pipeline[-1]
        document = json.loads(bytes(model.get_booster().save_raw("json")))
        edit(document["learner"]["gradient_booster"]["model"]["trees"][0])
        booster = xgboost.Booster()
        booster.load_model(bytearray(json.dumps(document).encode()))
        model._Booster = booster

    return corrupt


def xgb_leaf(delta: float = 0.5) -> Callable[[Any], None]:
    """Add `delta` to the leaf of the first tree with the most hessian (the most rows)."""

    def edit(tree: dict[str, Any]) -> None:
        leaves = [i for i, child in enumerate(tree["left_children"]) if child == -1]
        biggest = max(leaves, key=lambda i: tree["sum_hessian"][i])
        tree["split_conditions"][biggest] += delta
        tree["base_weights"][biggest] += delta

    return _xgb_edit(edit)


def xgb_threshold() -> Callable[[Any], None]:
    """Move the first numerical split of the first tree by half its magnitude (at least 0.5)."""

    def edit(tree: dict[str, Any]) -> None:
        i = next(
            k
            for k, child in enumerate(tree["left_children"])
            if child != -1 and tree["split_type"][k] == 0
        )
        value = tree["split_conditions"][i]
        tree["split_conditions"][i] = value + max(abs(value), 1.0) * 0.5

    return _xgb_edit(edit)


# -- the cases --------------------------------------------------------------------------------


def _model(pre: Any, model: Any) -> Pipeline:
    return Pipeline([("pre", pre), ("model", model)])


def cases() -> list[Case]:
    try:
        import lightgbm as lgb
        import xgboost as xgb

        from pipeport.research.boosting import LabelledXGBClassifier
    except ImportError:  # without the boosting extra there is nothing to convert
        return []
    P = "people"
    quiet: dict[str, Any] = {"verbose": -1, "random_state": 0, "n_jobs": 1}
    xgb_common: dict[str, Any] = {"random_state": 0, "n_jobs": 1}
    return [
        FitParamsCase(
            "lightgbm-binary-categorical-300-trees",
            "LGBMClassifier(n_estimators=300, num_leaves=15), binary: pandas category columns "
            "(text with NaN, integers) passed through a ColumnTransformer(set_output='pandas'), "
            "ordinal-encoded text declared categorical (categorical_feature), numbers with NaN "
            "(missing_type NaN)",
            P,
            "survived",
            lambda: _model(
                _pandas_frame(),
                lgb.LGBMClassifier(
                    n_estimators=300, num_leaves=15, min_data_per_group=10, cat_smooth=1, **quiet
                ),
            ),
            lgbm_leaf(),
            fit_params=(("model__categorical_feature", TEXT + CATEGORIES),),
        ),
        Case(
            "lightgbm-multiclass",
            "LGBMClassifier(n_estimators=120), multiclass softmax on text labels, after "
            "SimpleImputer and OneHotEncoder",
            P,
            "town",
            lambda: _model(
                _encoded(), lgb.LGBMClassifier(n_estimators=120, num_leaves=15, **quiet)
            ),
            lgbm_threshold(),
        ),
        Case(
            "lightgbm-regression-zero-as-missing",
            "LGBMRegressor(zero_as_missing=True, n_estimators=200): missing_type Zero (0 and NaN "
            "go the default way)",
            P,
            "spend",
            lambda: _model(
                _numbers_only(), lgb.LGBMRegressor(n_estimators=200, zero_as_missing=True, **quiet)
            ),
            lgbm_leaf(5.0),
        ),
        Case(
            "lightgbm-huber-use-missing-false",
            "LGBMRegressor(objective='huber', use_missing=False): missing_type None (NaN read "
            "as 0)",
            P,
            "spend",
            lambda: _model(
                _numbers_only(),
                lgb.LGBMRegressor(objective="huber", use_missing=False, n_estimators=150, **quiet),
            ),
            lgbm_threshold(),
        ),
        Case(
            "lightgbm-poisson",
            "LGBMRegressor(objective='poisson', n_estimators=300): exp link, pandas category "
            "columns",
            P,
            "spend",
            lambda: _model(
                _pandas_frame(), lgb.LGBMRegressor(objective="poisson", n_estimators=300, **quiet)
            ),
            lgbm_leaf(0.2),
        ),
        Case(
            "lightgbm-tweedie",
            "LGBMRegressor(objective='tweedie', tweedie_variance_power=1.3): exp link",
            P,
            "spend",
            lambda: _model(
                _encoded(),
                lgb.LGBMRegressor(
                    objective="tweedie", tweedie_variance_power=1.3, n_estimators=150, **quiet
                ),
            ),
            lgbm_threshold(),
        ),
        Case(
            "lightgbm-random-forest",
            "LGBMClassifier(boosting_type='rf', bagging_fraction=0.7, bagging_freq=1): the "
            "trees' average (average_output)",
            P,
            "survived",
            lambda: _model(
                _encoded(),
                lgb.LGBMClassifier(
                    boosting_type="rf",
                    bagging_fraction=0.7,
                    bagging_freq=1,
                    n_estimators=100,
                    **quiet,
                ),
            ),
            lgbm_leaf(),
        ),
        Case(
            "xgboost-binary-categorical-300-trees",
            "XGBClassifier(n_estimators=300, enable_categorical=True, max_cat_to_onehot=1), "
            "binary:logistic with the base_score XGBoost estimates: pandas category columns "
            "passed through (set splits), numbers with NaN (default directions)",
            P,
            "survived",
            lambda: _model(
                _pandas_frame(),
                xgb.XGBClassifier(
                    n_estimators=300,
                    max_depth=4,
                    enable_categorical=True,
                    max_cat_to_onehot=1,
                    **xgb_common,
                ),
            ),
            xgb_leaf(),
        ),
        Case(
            "xgboost-multiclass",
            "XGBClassifier (pipeport's, any labels) multi:softprob on three text labels, after "
            "SimpleImputer and OneHotEncoder",
            P,
            "town",
            lambda: _model(
                _encoded(), LabelledXGBClassifier(n_estimators=120, max_depth=4, **xgb_common)
            ),
            xgb_threshold(),
        ),
        Case(
            "xgboost-regression-missing-zero",
            "XGBRegressor(missing=0.0, n_estimators=200), reg:squarederror: zeros and NaN both "
            "missing",
            P,
            "spend",
            lambda: _model(
                _numbers_only(), xgb.XGBRegressor(n_estimators=200, missing=0.0, **xgb_common)
            ),
            xgb_threshold(),
        ),
        Case(
            "xgboost-poisson",
            "XGBRegressor(objective='count:poisson', n_estimators=300): expf link, pandas "
            "category columns",
            P,
            "spend",
            lambda: _model(
                _pandas_frame(),
                xgb.XGBRegressor(
                    objective="count:poisson",
                    n_estimators=300,
                    enable_categorical=True,
                    **xgb_common,
                ),
            ),
            xgb_leaf(0.2),
        ),
    ]
