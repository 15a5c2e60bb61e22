"""Kernel matrices [N, M] between the rows of X and M stored rows, in float64, in the order of
operations of the code each model predicts with.

- `libsvm_kernel`: libsvm's `Kernel::k_function` (scikit-learn's svm.cpp, dense and sparse
  alike): dot products and squared distances summed feature by feature in order (a feature both
  rows lack adds an exact 0), poly by `powi`'s repeated squaring, then exp/tanh.
- `pairwise_kernel`: scikit-learn's `pairwise_kernels` (KernelRidge): X @ Y.T, and for rbf the
  squared distances as `-2 X @ Y.T + ||x||^2 + ||y||^2`, clipped at 0; laplacian's L1 distances
  summed feature by feature.

MatMul and the row norms may add in another order than BLAS and numpy (a few ulps of each dot
product); onnxruntime's float64 Exp and Tanh are within 2 ulps of libm's.
"""

from __future__ import annotations

import numpy as np

from pipeport.export.converters._members import column
from pipeport.export.converters._special import scalar
from pipeport.export.graph import Graph


def _per_feature(g: Graph, X: str, stored: np.ndarray, hint: str) -> list[tuple[str, str]]:
    """(X[:, f] as [N, 1], stored[:, f] as [1, M]) for every feature f."""
    return [
        (column(g, X, f, f"{hint}_x"), g.const(stored[:, f].reshape(1, -1).copy(), f"{hint}_sv"))
        for f in range(stored.shape[1])
    ]


def _chain(g: Graph, terms: list[str], hint: str) -> str:
    total = terms[0]
    for term in terms[1:]:
        total = g.op("Add", [total, term], hint)
    return total


def sequential_dot(g: Graph, X: str, stored: np.ndarray) -> str:
    """[N, M]: sum over f of X[:, f] * stored[m, f], added in feature order (libsvm's `dot`)."""
    pairs = _per_feature(g, X, stored, "dot")
    return _chain(g, [g.op("Mul", [x, s], "dot_term") for x, s in pairs], "dot")


def _powi(g: Graph, base: str, times: int) -> str:
    """libsvm's powi: repeated squaring, the result multiplied in as the bits of `times` say."""
    result: str | None = None
    tmp = base
    t = times
    while t > 0:
        if t % 2 == 1:
            result = tmp if result is None else g.op("Mul", [result, tmp], "powi")
        t //= 2
        if t > 0:
            tmp = g.op("Mul", [tmp, tmp], "powi_square")
    return result if result is not None else g.op("Sub", [base, base], "powi_zero")


def libsvm_kernel(
    g: Graph,
    X: str,
    stored: np.ndarray,
    kernel: str,
    gamma: float,
    coef0: float,
    degree: int,
) -> str:
    """[N, M]: k_function(x, sv) for every row x of X and every stored row sv."""
    if kernel == "rbf":
        pairs = _per_feature(g, X, stored, "rbf")
        squares = []
        for x, s in pairs:
            d = g.op("Sub", [x, s], "rbf_d")
            squares.append(g.op("Mul", [d, d], "rbf_dd"))
        total = _chain(g, squares, "rbf_sum")
        return str(g.op("Exp", [g.op("Mul", [scalar(g, -gamma), total], "rbf_arg")], "kernel"))
    dot = sequential_dot(g, X, stored)
    if kernel == "linear":
        return dot
    affine = g.op("Add", [g.op("Mul", [scalar(g, gamma), dot]), scalar(g, coef0)], "kernel_arg")
    if kernel == "poly":
        if degree == 0:  # powi(x, 0) = 1.0
            return str(g.op("Add", [g.op("Mul", [affine, scalar(g, 0.0)]), scalar(g, 1.0)]))
        return _powi(g, affine, degree)
    if kernel == "sigmoid":
        return str(g.op("Tanh", [affine], "kernel"))
    raise ValueError(kernel)


def pairwise_kernel(
    g: Graph,
    X: str,
    stored: np.ndarray,
    kernel: str,
    gamma: float,
    coef0: float,
    degree: float,
) -> str:
    """[N, M]: scikit-learn's pairwise_kernels(X, stored, metric=kernel)."""
    if kernel == "laplacian":
        pairs = _per_feature(g, X, stored, "l1")
        terms = [g.op("Abs", [g.op("Sub", [x, s], "l1_d")], "l1_abs") for x, s in pairs]
        distance = _chain(g, terms, "l1_sum")
        arg = g.op("Mul", [scalar(g, -gamma), distance], "laplacian_arg")
        return str(g.op("Exp", [arg], "kernel"))
    dot = g.op("MatMul", [X, g.const(np.ascontiguousarray(stored.T), "stored_t")], "dot")
    if kernel == "linear":
        return str(dot)
    if kernel == "rbf":
        xx = g.op(
            "ReduceSum",
            [g.op("Mul", [X, X], "x_sq"), g.const(np.array([1], np.int64), "axis1")],
            "xx",
            keepdims=1,
        )
        yy = np.einsum("ij,ij->i", stored, stored).reshape(1, -1)
        d = g.op("Mul", [scalar(g, -2.0), dot], "sqdist")
        d = g.op("Add", [g.op("Add", [d, xx], "sqdist"), g.const(yy, "yy")], "sqdist")
        d = g.op("Max", [d, scalar(g, 0.0)], "sqdist")
        return str(g.op("Exp", [g.op("Mul", [d, scalar(g, -gamma)], "rbf_arg")], "kernel"))
    affine = g.op("Add", [g.op("Mul", [dot, scalar(g, gamma)]), scalar(g, coef0)], "kernel_arg")
    if kernel == "poly":
        return str(g.op("Pow", [affine, scalar(g, float(degree))], "kernel"))
    if kernel == "sigmoid":
        return str(g.op("Tanh", [affine], "kernel"))
    raise ValueError(kernel)
