"""pipeport's converters, one module per family; importing this package registers them all.

Each module ends by registering a `pipeport.export.registry.Converter` per class family: the
classes, the parameters it accepts, how it is exact, and the function that builds its part of
the graph. docs/support.md is generated from these registrations.
"""

from pipeport.export.converters import (  # noqa: F401  (imported to register)
    adaboost,
    bagging,
    binarizer,
    bins,
    calibration,
    decomposition,
    encoders,
    feature_engine,
    functions,
    glm,
    identity,
    imputers,
    isolation_forest,
    iterative_imputer,
    kernel_ridge,
    knn_imputer,
    lightgbm,
    linear,
    linear_classifiers,
    mlp,
    naive_bayes,
    neighbors,
    normalizers,
    polynomial,
    power,
    quantile,
    scalers,
    selection,
    splines,
    stacking,
    svm,
    target,
    tree_ensembles,
    voting,
    xgboost,
)
