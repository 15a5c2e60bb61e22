"""Float64 arithmetic in the exact order numpy and OpenBLAS run it, from elementwise ONNX ops.

Most converters can let a `MatMul` or a `ReduceSum` sum in its own order: the result differs from
numpy's by a few ulps, far inside the parity gate. A step that *compares* such sums (KNNImputer's
neighbour search) cannot: two training rows at the same true distance come out a few ulps apart,
and which one scikit-learn takes depends on those ulps. So these helpers rebuild the sums with
the rounding numpy and OpenBLAS (x86-64) apply, using only Add, Sub, Mul and Where, which every
runtime rounds correctly (IEEE 754, round to nearest even):

- `fma`: a fused multiply-add `RN(a * b + c)`, as OpenBLAS's dgemm kernels accumulate a dot
  product (one `vfmadd` per term, in order). Exact: Dekker's product gives `a * b` as two
  doubles, Knuth's TwoSum adds them to `c` without error, and the one case where rounding the
  pieces in two steps differs from rounding once (an exact tie between two doubles) is detected
  and resolved toward the remainder's sign. Valid without overflow or underflow: |a*b| and |c|
  between 2**-969 and 2**996 (or zero).
- `einsum_row_norms`: `np.einsum("ij,ij->i", X, X)` on a C-contiguous X (scikit-learn's
  `row_norms`), which numpy's baseline SIMD kernel sums in two lanes (even and odd columns, in
  blocks of eight), multiplying and adding separately.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeport.export.graph import Graph

#: Veltkamp's splitting constant for float64: 2**27 + 1.
_SPLITTER = 134217729.0


def split(g: Graph, a: str) -> tuple[str, str]:
    """(high, low) halves of each value of `a`, each with at most 26 significant bits."""
    scaled = g.op("Mul", [a, g.const(np.array(_SPLITTER), "splitter")], "split_scaled")
    high = g.op("Sub", [scaled, g.op("Sub", [scaled, a], "split_gap")], "split_high")
    return high, g.op("Sub", [a, high], "split_low")


def split_array(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`split` of a constant, computed now in numpy (the same float64 operations)."""
    scaled = values * _SPLITTER
    high = scaled - (scaled - values)
    return high, values - high


def _two_sum(g: Graph, a: str, b: str) -> tuple[str, str]:
    """(s, e) with s = RN(a + b) and s + e = a + b exactly (Knuth)."""
    s = g.op("Add", [a, b], "two_sum")
    b_virtual = g.op("Sub", [s, a], "two_sum_b")
    a_virtual = g.op("Sub", [s, b_virtual], "two_sum_a")
    error = g.op(
        "Add",
        [g.op("Sub", [a, a_virtual], "two_sum_ea"), g.op("Sub", [b, b_virtual], "two_sum_eb")],
        "two_sum_error",
    )
    return s, error


def fma(
    g: Graph,
    a: str,
    a_parts: tuple[str, str],
    b: str,
    b_parts: tuple[str, str],
    c: str,
) -> str:
    """RN(a * b + c), broadcasting; `a_parts`/`b_parts` are `split` of a and b."""
    a_high, a_low = a_parts
    b_high, b_low = b_parts
    product = g.op("Mul", [a, b], "fma_product")
    # Dekker: product + error == a * b exactly
    error = g.op("Sub", [g.op("Mul", [a_high, b_high], "fma_hh"), product], "fma_e1")
    error = g.op("Add", [error, g.op("Mul", [a_high, b_low], "fma_hl")], "fma_e2")
    error = g.op("Add", [error, g.op("Mul", [a_low, b_high], "fma_lh")], "fma_e3")
    error = g.op("Add", [error, g.op("Mul", [a_low, b_low], "fma_ll")], "fma_error")
    # a*b + c == s + t + error == s + u + w, |w| tiny next to u
    s, t = _two_sum(g, c, product)
    u, w = _two_sum(g, t, error)
    rounded, rest = _two_sum(g, s, u)
    # RN(s + u) is RN(s + u + w) unless s + u lies exactly halfway between two doubles (then
    # rest is half an ulp and rounded + 2 * rest, the other neighbour, is a double) and w pushes
    # it past the halfway point.
    twice = g.op("Add", [rest, rest], "fma_twice_rest")
    other = g.op("Add", [rounded, twice], "fma_other")
    representable = g.op("Equal", [g.op("Sub", [other, rounded], "fma_step"), twice], "fma_exact")
    zero = g.const(np.array(0.0), "zero")
    nonzero = g.op("Not", [g.op("Equal", [rest, zero], "fma_rest_zero")], "fma_rest_nonzero")
    halfway = g.op("And", [representable, nonzero], "fma_halfway")
    same_side = g.op("Greater", [g.op("Mul", [w, rest], "fma_side"), zero], "fma_same_side")
    return str(
        g.op(
            "Where",
            [g.op("And", [halfway, same_side], "fma_round_away"), other, rounded],
            "fma",
        )
    )


def einsum_row_norms(g: Graph, squares: Sequence[str]) -> str:
    """Σ_j x_j² per row as numpy's einsum sums it, given the [N, 1] squares x_j * x_j."""
    lanes: list[str | None] = [None, None]

    def add(lane: int, value: str) -> None:
        current = lanes[lane]
        lanes[lane] = value if current is None else g.op("Add", [value, current], "lane")

    n, i = len(squares), 0
    while n - i >= 8:
        for lane in (0, 1):
            block = [squares[i + 2 * k + lane] for k in range(4)]
            # x0² + (x2² + (x4² + (x6² + lane)))
            total = lanes[lane]
            for value in reversed(block):
                total = value if total is None else g.op("Add", [value, total], "lane")
            lanes[lane] = total
        i += 8
    while i < n:
        add(0, squares[i])
        if i + 1 < n:
            add(1, squares[i + 1])
        i += 2
    first, second = lanes
    assert first is not None
    if second is None:
        return first
    return str(g.op("Add", [first, second], "row_norms"))
