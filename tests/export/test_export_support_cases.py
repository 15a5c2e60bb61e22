"""Every row of docs/support.md's step table: its pipeline exports through the parity gate, and
corrupting one learned value of its step makes the graph disagree with the original pipeline,
which the gate's comparison catches (so the row's measurement can fail)."""

from __future__ import annotations

import copy
import warnings

import pytest

from pipeport.export.onnx_export import compare_with_sklearn, read_metadata, to_onnx
from pipeport.export.parity import generate_raw_rows
from pipeport.export.support_cases import Case, cases
from pipeport.schema import ModelSchema

ROWS = 2_000

CASES = cases()


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def exported(request):
    case: Case = request.param
    pipeline = case.fit()
    sample = case.features()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = to_onnx(pipeline, sample, case.id, generated_rows=ROWS, seed=1)
    return case, pipeline, sample, model


def test_the_case_exports_through_the_gate(exported):
    case, _pipeline, _sample, model = exported
    parity = read_metadata(model)["parity"]
    assert parity["passed"] and not parity["forced"], case.id
    assert parity["rows"] >= ROWS


def test_a_corrupted_learned_value_is_caught(exported):
    case, pipeline, sample, model = exported
    corrupted = copy.deepcopy(pipeline)
    case.corrupt(corrupted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the corrupted pipeline's own graph (its gate compares it with itself and passes)...
        bad = to_onnx(corrupted, sample, case.id, generated_rows=0, force=True)
        # ...disagrees with the original pipeline on the rows the gate uses
        schema = ModelSchema.from_metadata(read_metadata(model))
        frame = generate_raw_rows(sample, schema, ROWS, 1)
        report = compare_with_sklearn(pipeline, bad, frame, schema)
    assert not report.passed, f"{case.id}: corrupting the step changed nothing the gate sees"
    assert report.rows_outside_tolerance > 0
