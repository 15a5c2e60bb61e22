"""KernelRidge: K(X, X_fit_) @ dual_coef_, the kernel as scikit-learn's pairwise_kernels.

Kernels 'linear', 'poly'/'polynomial', 'rbf', 'laplacian' and 'sigmoid' (_kernels.pairwise_kernel:
rbf through scikit-learn's expansion -2 X Y' + |x|^2 + |y|^2 clipped at 0, laplacian's L1
distances feature by feature), gamma None meaning 1 / n_features as there. The kernel matrix
and the product with dual_coef_ add in another order than BLAS and scipy: a few ulps of each
dot product; with rbf the expansion loses digits where a row is close to a training row (as it
does in scikit-learn), an absolute error of about eps * (|x|^2 + |y|^2) in the kernel, times the
dual coefficients: measured by the gate against its 1e-6 relative tolerance. With 'poly' the
sum over the training rows cancels on far-out rows (large kernel values, a moderate prediction),
where BLAS's order and ours round differently: 2.2e-7 relative measured on the support case's
10,000 generated rows; the gate refuses a pipeline where it would exceed 1e-6.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.kernel_ridge import KernelRidge

from pipeport.export.converters._kernels import pairwise_kernel
from pipeport.export.graph import Col, Graph
from pipeport.export.registry import Converter, register

_KERNELS = {
    "linear": "linear",
    "poly": "poly",
    "polynomial": "poly",
    "rbf": "rbf",
    "laplacian": "laplacian",
    "sigmoid": "sigmoid",
}


def convert_kernel_ridge(model: Any, cols: list[Col], g: Graph, where: str) -> dict[str, str]:
    X = g.matrix(cols, where, model)
    stored = np.asarray(
        model.X_fit_.toarray() if hasattr(model.X_fit_, "toarray") else model.X_fit_, np.float64
    )
    params = model.kernel_params or {}
    gamma = params.get("gamma", model.gamma)
    gamma = 1.0 / stored.shape[1] if gamma is None else float(gamma)
    degree = float(params.get("degree", model.degree))
    coef0 = float(params.get("coef0", model.coef0))
    K = pairwise_kernel(g, X, stored, _KERNELS[model.kernel], gamma, coef0, degree)
    dual = np.asarray(model.dual_coef_, np.float64).reshape(-1, 1)
    return {"prediction": g.op("MatMul", [K, g.const(dual, "dual_coef")], "prediction")}


def _check(model: Any) -> str | None:
    if callable(model.kernel) or model.kernel not in _KERNELS:
        kernel = "a callable" if callable(model.kernel) else repr(model.kernel)
        return (
            f"its kernel is {kernel}; pipeport exports the kernels "
            f"{', '.join(repr(k) for k in _KERNELS)}"
        )
    if np.asarray(model.dual_coef_).ndim > 1 and np.asarray(model.dual_coef_).shape[1] > 1:
        return "it predicts several targets; pipeport exports one prediction per row"
    return None


register(
    Converter(
        classes=(KernelRidge,),
        role="regressor",
        convert=convert_kernel_ridge,
        check=_check,
        family="kernel ridge",
        accepts="kernels 'linear', 'poly', 'rbf', 'laplacian', 'sigmoid' with any alpha, gamma "
        "(None: 1 / n_features), degree, coef0; one target",
        exactness="scikit-learn's pairwise kernel formulas in float64, then MatMul with "
        "dual_coef_ (a few ulps; 'poly' cancels on far-out rows: 2.2e-7 relative measured)",
    )
)
