"""Loading a model file: what is read from it, and one-line refusals of bad files."""

from __future__ import annotations

import hashlib
import json

import onnx
import pytest
from model_builders import CATEGORICAL, NUMERIC, NUMERIC_ONNX

from pipeport.serving.model import ModelLoadError, load_model


def test_schema_is_read_from_the_file_alone(classifier_path):
    model = load_model(classifier_path)
    schema = model.schema
    assert (schema.name, schema.version, schema.task) == ("penguins-test", "3", "classification")
    assert [(s.name, s.onnx_name, s.kind) for s in schema.inputs] == [
        (NUMERIC, NUMERIC_ONNX, "numeric"),
        (CATEGORICAL, CATEGORICAL, "categorical"),
    ]
    assert schema.classes == ("Adelie", "Chinstrap", "Gentoo")
    assert model.sha256 == hashlib.sha256(classifier_path.read_bytes()).hexdigest()


def test_int_labels_are_detected(int_classifier_path):
    assert load_model(int_classifier_path).schema.label_is_int


def test_session_uses_one_intra_op_thread(classifier_path):
    options = load_model(classifier_path).session.get_session_options()
    assert options.intra_op_num_threads == 1


def _rewrite_metadata(source, target, change):
    model = onnx.load(str(source))
    entry = next(p for p in model.metadata_props if p.key == "pipeport")
    meta = json.loads(entry.value)
    result = change(meta)
    entry.value = result if isinstance(result, str) else json.dumps(meta)
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda m: "{not json", "not valid JSON"),
        (lambda m: m.update(format_version=99), "format_version 99"),
        (lambda m: m["inputs"][0].update(onnx_name="nope"), "'nope'"),
        (lambda m: m["inputs"][0].update(kind="categorical"), "takes tensor(double)"),
        (lambda m: m.pop("classes"), "needs 'classes'"),
        (lambda m: m.pop("inputs"), "malformed"),
        (lambda m: m.update(task="clustering"), "unknown task"),
    ],
)
def test_inconsistent_metadata_is_refused(classifier_path, tmp_path, change, needle):
    path = _rewrite_metadata(classifier_path, tmp_path / "bad.onnx", change)
    with pytest.raises(ModelLoadError) as caught:
        load_model(path)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_foreign_and_corrupt_files_are_refused(foreign_model_path, tmp_path):
    with pytest.raises(ModelLoadError, match="no 'pipeport' metadata"):
        load_model(foreign_model_path)
    (tmp_path / "x.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelLoadError, match="not a valid ONNX model"):
        load_model(tmp_path / "x.onnx")


def test_model_run_returns_what_the_public_session_run_returns(classifier_path):
    import numpy as np

    from pipeport.contract import raw_rows_to_feeds

    model = load_model(classifier_path)
    rows = [{NUMERIC: 40.0, CATEGORICAL: "Dream"}, {NUMERIC: None, CATEGORICAL: "Atlantis"}]
    feeds = raw_rows_to_feeds(rows, model.schema)
    names = list(model.schema.outputs.values())
    ours, public = model.run(names, feeds), model.session.run(names, feeds)
    assert len(ours) == len(public) == 2
    for a, b in zip(ours, public, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(Exception, match="(?i)input"):  # a missing input still fails loudly
        model.run(names, {k: v for k, v in feeds.items() if k != CATEGORICAL})
