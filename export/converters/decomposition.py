"""PCA, IncrementalPCA and TruncatedSVD: a float64 MatMul with the fitted components.

`_BasePCA._transform` (scikit-learn 1.9) computes `X @ components_.T`, then subtracts
`mean_ @ components_.T` (the centering applied after the projection), then, with whiten=True,
divides by `sqrt(explained_variance_)` clipped below at machine epsilon. The graph does the
same three steps; the two constants are computed here with the same numpy expressions, so they
hold scikit-learn's bits. TruncatedSVD is `X @ components_.T`. The MatMul sums in its own order,
a few ulps from numpy's BLAS. All three refuse missing values (scikit-learn raises on NaN), which
the contract then refuses too. Whitening a component of (near) zero variance is refused:
scikit-learn divides that projection's rounding noise by machine epsilon, values no other runtime
reproduces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA, IncrementalPCA, TruncatedSVD

from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register


def _names(step: Any) -> list[str]:
    return [str(n) for n in step.get_feature_names_out()]


def _project(step: Any, cols: list[Col], g: Graph, where: str) -> str:
    X = g.matrix(cols, where, step)
    components = np.asarray(step.components_, np.float64)
    return str(g.op("MatMul", [X, g.const(np.ascontiguousarray(components.T), "components")]))


def convert_pca(step: Any, cols: list[Col], g: Graph, where: str) -> list[Col]:
    projected = _project(step, cols, g, where)
    components = np.asarray(step.components_, np.float64)
    offset = np.reshape(np.asarray(step.mean_, np.float64), (1, -1)) @ components.T
    out = g.op("Sub", [projected, g.const(offset, "mean_projected")], "centered")
    if step.whiten:
        scale = np.sqrt(np.asarray(step.explained_variance_, np.float64))
        scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
        out = g.op("Div", [out, g.const(scale.reshape(1, -1), "whiten_scale")], "whitened")
    return g.block(out, _names(step))


#: Whitening a component whose standard deviation is below this fraction of the data's scale
#: divides float64 rounding noise by it (scikit-learn: by machine epsilon, for a null component).
_NOISE_FRACTION = 1e-7


def _check_pca(step: Any) -> str | None:
    if not step.whiten:
        return None
    variance = np.asarray(step.explained_variance_, np.float64)
    scale = float(np.sqrt(variance.sum()) + np.linalg.norm(np.asarray(step.mean_, np.float64)))
    tiny = np.flatnonzero(np.sqrt(variance) < _NOISE_FRACTION * scale)
    if tiny.size:
        k = int(tiny[0])
        return (
            f"whiten=True with component {k} of (near) zero variance "
            f"(explained_variance_[{k}] = {variance[k]:.3g}): whitening divides that "
            "projection's rounding noise by its tiny scale, so its values are noise no other "
            "runtime reproduces. Keep fewer components (e.g. n_components=0.999) or set "
            "whiten=False"
        )
    return None


def convert_truncated_svd(step: TruncatedSVD, cols: list[Col], g: Graph, where: str) -> list[Col]:
    return g.block(_project(step, cols, g, where), _names(step))


register(
    Converter(
        classes=(PCA, IncrementalPCA),
        role="transformer",
        convert=convert_pca,
        check=_check_pca,
        family="decomposition",
        accepts=(
            "whiten (both ways), every solver and n_components; refused: whiten=True with a "
            "component of (near) zero variance (its whitened values are rounding noise)"
        ),
        exactness=(
            "X @ components_.T - mean_ @ components_.T, then / sqrt(explained_variance_) when "
            "whitening, as scikit-learn; float64 MatMul (a few ulps from numpy's BLAS)"
        ),
    )
)
register(
    Converter(
        classes=(TruncatedSVD,),
        role="transformer",
        convert=convert_truncated_svd,
        family="decomposition",
        accepts="every algorithm and n_components",
        exactness="X @ components_.T in a float64 MatMul (a few ulps from numpy's BLAS)",
    )
)
