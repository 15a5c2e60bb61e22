"""Every exported graph is a valid ONNX model at the opsets every runtime runs, and the ONNX
reference evaluator (onnx.reference, pure Python) agrees with onnxruntime on it."""

from __future__ import annotations

import export_testkit as kit
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx.reference import ReferenceEvaluator

from pipeport.export.onnx_export import read_metadata

ESTIMATOR_TASKS = kit.estimator_tasks()
IDS = [f"{e}-{t}" for e, t in ESTIMATOR_TASKS]


@pytest.mark.parametrize(("estimator", "task"), ESTIMATOR_TASKS, ids=IDS)
def test_penguins_graph_passes_full_onnx_checker_at_opsets_21_and_ml_5(penguins, estimator, task):
    model = penguins(estimator, task).exported()
    onnx.checker.check_model(model, full_check=True)
    opsets = [(o.domain, o.version) for o in model.opset_import]
    assert opsets == [("", 21), ("ai.onnx.ml", 5)]
    assert model.ir_version == 10
    # no op from a domain outside the two declared ones
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx.ml"}
    assert [o.name for o in model.graph.output] == (
        ["label", "probabilities"] if task == "classification" else ["prediction"]
    )


@pytest.mark.parametrize(("estimator", "task"), ESTIMATOR_TASKS, ids=IDS)
def test_reference_evaluator_agrees_with_onnxruntime_on_penguins(penguins, estimator, task):
    trained = penguins(estimator, task)
    model = trained.exported()
    meta = read_metadata(model)
    stress = kit.stress_rows(
        trained.sample,
        [i["name"] for i in meta["inputs"] if i["kind"] == "categorical"],
        150,
        seed=5,
    )
    frame = pd.concat([trained.sample.astype(object), stress], ignore_index=True)
    feeds = kit.contract_feeds(meta, frame)
    names = [o.name for o in model.graph.output]
    expected = kit.ort_session(model).run(names, feeds)
    actual = ReferenceEvaluator(model).run(names, feeds)
    for name, ort_value, ref_value in zip(names, expected, actual, strict=True):
        ref_value = np.asarray(ref_value)
        assert ref_value.shape == ort_value.shape, name
        if ort_value.dtype.kind in "OUi":
            np.testing.assert_array_equal(
                ref_value.astype(str), ort_value.astype(str), err_msg=name
            )
        else:
            np.testing.assert_allclose(ref_value, ort_value, rtol=0, atol=1e-9, err_msg=name)
