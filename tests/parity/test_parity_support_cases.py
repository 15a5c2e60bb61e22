"""Every support case's graph (docs/support.md) runs in Node.js and in a browser too, and agrees
with scikit-learn there: new operators must work in every runtime pipeport promises."""

from __future__ import annotations

import warnings

import pytest

import pipeport
from pipeport.export.support_cases import cases

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_support_case_agrees_in_node_and_the_browser(case) -> None:
    pipeline, sample = case.fit(), case.features()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pipeport.to_onnx(pipeline, sample, case.id, generated_rows=0)
        run = pipeport.check_parity(
            pipeline,
            model,
            sample.head(120),
            runtimes=["onnxruntime", "reference", "node", "browser"],
            edge_cases=False,
            property_rows=40,
        )
    statuses = {o.runtime: o.status for o in run.outcomes}
    assert {"onnxruntime", "reference", "node", "browser"} <= set(statuses), statuses
    assert set(statuses.values()) == {"passed"}, statuses
