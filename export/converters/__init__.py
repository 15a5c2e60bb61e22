"""Our converters, registered into skl2onnx's registry (extension by registration).

Each one computes in float64 where scikit-learn does, so the exported graph matches scikit-learn
to rounding. Registering replaces skl2onnx's float32-only converters for these classes in this
process only.
"""

from __future__ import annotations

from skl2onnx import update_registered_converter
from sklearn import ensemble, tree
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeport.export.converters import tree_ensembles as te
from pipeport.export.converters.missing_category import (
    convert_missing_category,
    shape_missing_category,
)
from pipeport.export.converters.one_hot_encoder import (
    convert_one_hot_encoder,
    shape_one_hot_encoder,
)
from pipeport.export.converters.simple_imputer import convert_simple_imputer, shape_simple_imputer
from pipeport.export.converters.standard_scaler import (
    convert_standard_scaler,
    shape_standard_scaler,
)
from pipeport.research.steps import MissingCategory

_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "nocl": [True, False]}

_registered = False


def register_converters() -> None:
    """Register pipeport's converters (idempotent)."""
    global _registered
    if _registered:
        return
    update_registered_converter(
        MissingCategory, "PipeportMissingCategory", shape_missing_category, convert_missing_category
    )
    update_registered_converter(
        SimpleImputer, "SklearnImputer", shape_simple_imputer, convert_simple_imputer
    )
    update_registered_converter(
        StandardScaler, "SklearnScaler", shape_standard_scaler, convert_standard_scaler
    )
    update_registered_converter(
        OneHotEncoder, "SklearnOneHotEncoder", shape_one_hot_encoder, convert_one_hot_encoder
    )
    classifiers = {
        tree.DecisionTreeClassifier: te.convert_tree_classifier,
        ensemble.RandomForestClassifier: te.convert_tree_classifier,
        ensemble.ExtraTreesClassifier: te.convert_tree_classifier,
        ensemble.GradientBoostingClassifier: te.convert_gb_classifier,
        ensemble.HistGradientBoostingClassifier: te.convert_hgb_classifier,
    }
    regressors = {
        tree.DecisionTreeRegressor: te.convert_tree_regressor,
        ensemble.RandomForestRegressor: te.convert_tree_regressor,
        ensemble.ExtraTreesRegressor: te.convert_tree_regressor,
        ensemble.GradientBoostingRegressor: te.convert_gb_regressor,
        ensemble.HistGradientBoostingRegressor: te.convert_hgb_regressor,
    }
    for cls, convert in classifiers.items():
        update_registered_converter(
            cls,
            f"Pipeport{cls.__name__}",
            te.shape_tree_classifier,
            convert,
            options=_CLASSIFIER_OPTIONS,
        )
    for cls, convert in regressors.items():
        update_registered_converter(
            cls, f"Pipeport{cls.__name__}", te.shape_tree_regressor, convert
        )
    _registered = True
