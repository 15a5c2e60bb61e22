"""The logistic function as scikit-learn computes it (scipy's expit), in every runtime.

onnxruntime's float64 `Sigmoid` returns 0.0 below about -36 (scipy: 4.2e-18 at -40) and the
reference evaluator returns subnormals where scipy returns 0. Alone that is within any tolerance;
normalised (a calibrated classifier divides by the sum of its per-class sigmoids, and falls back to
uniform probabilities when that sum is 0) it changes a probability by 0.13 on far-out rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from scipy.special import expit as scipy_expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pipeport
from pipeport.export.converters._special import expit
from pipeport.export.graph import Graph
from pipeport.export.onnx_export import session

TAILS = np.array(
    [-800.0, -745.0, -740.0, -710.0, -700.0, -40.0, -36.5, -1e-9, 0.0, 36.0, 37.0, 800.0]
)


def _graph() -> object:
    g = Graph([])
    g.rename_output(expit(g, "x"), "y")
    return g.build(
        "expit",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None])],
    )


@pytest.mark.parametrize("runtime", ["onnxruntime", "reference"])
def test_expit_is_scipys_in_the_tails(runtime):
    """Exactly 0 and 1 where scipy's are (what a normalisation tests), a few ulps elsewhere
    (scipy calls libm's exp, onnxruntime its own: 1 ulp apart at -40)."""
    model = _graph()
    model.ir_version = 10
    with np.errstate(over="ignore"):
        if runtime == "onnxruntime":
            got = session(model).run(["y"], {"x": TAILS})[0]
        else:
            got = ReferenceEvaluator(model).run(["y"], {"x": TAILS})[0]
    expected = scipy_expit(TAILS)
    exact = (expected == 0.0) | (expected == 1.0)
    np.testing.assert_array_equal(got[exact], expected[exact])
    np.testing.assert_allclose(got[~exact], expected[~exact], rtol=4e-16, atol=0)


def test_sigmoid_calibrated_classifier_exports_with_far_out_rows():
    X, y = load_iris(return_X_y=True, as_frame=True)
    pipeline = make_pipeline(
        StandardScaler(),
        CalibratedClassifierCV(LogisticRegression(max_iter=1000), method="sigmoid"),
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pipeport.to_onnx(pipeline, X, "calibrated", generated_rows=5000)
    assert pipeport.read_metadata(model)["parity"]["max_abs_error"] <= 1e-12
