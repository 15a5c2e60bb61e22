"""Converters for feature-engine's transformers (one module per feature-engine family), for
users' feature-engine pipelines and the training config's `[[steps]]`. Importing this package
registers them all; without feature-engine installed there is nothing to register."""

from importlib.util import find_spec

if find_spec("feature_engine") is not None:
    from pipeport.export.converters.feature_engine import (  # noqa: F401  (imported to register)
        creation,
        discretisation,
        encoding,
        imputation,
        outliers,
        selection,
        transformation,
        wrappers,
    )
