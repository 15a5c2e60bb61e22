"""clients/node really runs pipeport files in onnxruntime-node and agrees with onnxruntime (Python).

Every test here starts node; none mocks it. Without node or clients/node_modules the tests fail,
naming what to install (`make test` installs both).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from clients_contract import (
    BUILDERS,
    CLIENTS_DIR,
    TREE_EDGE_ROWS,
    TREE_EXPECTED,
    max_abs_difference,
    predict_with_onnxruntime,
    require,
    rows_for,
    run_node_script,
)
from onnx import TensorProto, helper, numpy_helper

from pipeport.parity_tests.runtimes import RuntimeFailed
from pipeport.parity_tests.runtimes.node import PREDICT_JS, node_executable, run_node

pytestmark = pytest.mark.node


@pytest.fixture(scope="module", autouse=True)
def _node_installed() -> None:
    require(node_executable)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_node_predictions_equal_onnxruntime_python(model_dir: Path, name: str) -> None:
    rows = rows_for(name, 60)
    worst = max_abs_difference(
        predict_with_onnxruntime(model_dir / f"{name}.onnx", rows),
        run_node(model_dir / f"{name}.onnx", rows),
    )
    assert worst <= 1e-12


def test_tree_ensemble_v5_in_double_runs_in_node(model_dir: Path) -> None:
    got = [p["prediction"] for p in run_node(model_dir / "tree.onnx", TREE_EDGE_ROWS)]
    assert got == TREE_EXPECTED


def test_thousands_of_rows_cross_batch_boundaries_in_order(model_dir: Path) -> None:
    rows = rows_for("species", 5000, seed=3)
    expected = predict_with_onnxruntime(model_dir / "species.onnx", rows)
    assert max_abs_difference(expected, run_node(model_dir / "species.onnx", rows)) <= 1e-12


def test_int64_labels_come_back_as_json_numbers(model_dir: Path) -> None:
    predictions = run_node(model_dir / "species_int.onnx", rows_for("species_int", 12))
    assert {type(p["label"]) for p in predictions} == {int}
    assert {p["label"] for p in predictions} <= {-1, 0, 7}
    assert set(predictions[0]["probabilities"]) == {"-1", "0", "7"}


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        ({"island": "Dream"}, 'row 2, field "bill length (mm)": missing field'),
        (
            {"bill length (mm)": 40.0, "island": "Dream", "sex": "MALE"},
            'row 2, field "sex": unknown',
        ),
        ({"bill length (mm)": "40", "island": "Dream"}, "expected a number or null, got string"),
        ({"bill length (mm)": True, "island": "Dream"}, "expected a number or null, got boolean"),
        (
            {"bill length (mm)": 40.0, "island": [3]},
            'field "island": expected a string, number, boolean or null, got array',
        ),
        ([40.0, "Dream"], "row 2: expected a JSON object"),
    ],
)
def test_bad_rows_are_refused_naming_row_and_field(
    model_dir: Path, bad_row: object, expected: str
) -> None:
    rows = [*rows_for("species", 2), bad_row]
    with pytest.raises(RuntimeFailed) as info:
        run_node(model_dir / "species.onnx", rows)  # type: ignore[arg-type]
    assert expected in info.value.stderr


def test_error_row_index_counts_across_batches(model_dir: Path) -> None:
    rows = rows_for("species", 2600)
    del rows[2500]["island"]
    with pytest.raises(RuntimeFailed) as info:
        run_node(model_dir / "species.onnx", rows)
    assert 'row 2500, field "island": missing field' in info.value.stderr


def test_non_finite_numbers_are_refused_by_the_module(model_dir: Path) -> None:
    # JSON cannot carry NaN/Infinity, but a JavaScript caller of predict() can.
    script = """
    const { loadModel } = require('./node/pipeport.js');
    (async () => {
      const model = await loadModel(process.argv[1]);
      for (const v of [NaN, Infinity]) {
        try { await model.predict([{ 'bill length (mm)': v, island: 'Dream' }]); }
        catch (err) { console.log(JSON.stringify([err.name, err.row, err.field, err.message])); }
      }
    })();
    """
    proc = run_node_script(script, str(model_dir / "species.onnx"))
    assert proc.returncode == 0, proc.stderr
    nan, inf = (json.loads(line) for line in proc.stdout.splitlines())
    assert nan[:3] == inf[:3] == ["PipeportInputError", 0, "bill length (mm)"]
    assert "non-finite number NaN" in nan[3] and "non-finite number Infinity" in inf[3]


def test_module_exposes_schema_and_reads_metadata_like_onnx(model_dir: Path) -> None:
    script = """
    const fs = require('fs');
    const { loadModel, readMetadataProps } = require('./node/pipeport.js');
    (async () => {
      const model = await loadModel(process.argv[1]);
      const props = readMetadataProps(fs.readFileSync(process.argv[1]));
      console.log(JSON.stringify({ name: model.schema.name, props }));
    })();
    """
    path = model_dir / "species.onnx"
    proc = run_node_script(script, str(path))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["name"] == "species"
    assert out["props"] == {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_metadata_reader_skips_a_large_graph_and_decodes_utf8(tmp_path: Path) -> None:
    big = numpy_helper.from_array(np.arange(3_000_000, dtype=np.float64), "big")  # 24 MB
    graph = helper.make_graph(
        [helper.make_node("Identity", ["big"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [3_000_000])],
        initializer=[big],
    )
    model = helper.make_model(graph)
    props = {"pipeport": '{"name": "Größe — 体重 🐧"}', "a": "", "": "empty key"}
    helper.set_model_props(model, props)
    path = tmp_path / "big.onnx"
    onnx.save(model, str(path))
    script = """
    const fs = require('fs');
    const { readMetadataProps } = require('./common/onnx-metadata.js');
    console.log(JSON.stringify(readMetadataProps(fs.readFileSync(process.argv[1]))));
    """
    proc = run_node_script(script, str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == props


def test_a_file_without_pipeport_metadata_is_refused_with_the_fix(tmp_path: Path) -> None:
    model = BUILDERS["tree"]()
    del model.metadata_props[:]
    path = tmp_path / "plain.onnx"
    onnx.save(model, str(path))
    with pytest.raises(RuntimeFailed) as info:
        run_node(path, [{"x value": 1.0, "y-value": 2.0}])
    assert 'no metadata_props key "pipeport"' in info.value.stderr
    assert "pipeport export" in info.value.stderr


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node_executable(), str(PREDICT_JS), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=CLIENTS_DIR.parent,
    )


def test_cli_reads_stdin_and_skips_blank_lines(model_dir: Path) -> None:
    rows = rows_for("mass", 3)
    stdin = "\n".join(json.dumps(r) for r in rows) + "\n\n"
    proc = _cli(str(model_dir / "mass.onnx"), "-", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line) for line in proc.stdout.splitlines()]
    assert got == predict_with_onnxruntime(model_dir / "mass.onnx", rows)


def test_cli_help_usage_and_bad_json(model_dir: Path) -> None:
    help_ = _cli("--help")
    assert help_.returncode == 0 and "usage: node predict.js MODEL.onnx" in help_.stdout
    usage = _cli()
    assert usage.returncode == 2 and "expected MODEL.onnx" in usage.stderr
    bad = _cli(str(model_dir / "mass.onnx"), stdin='{"flipper.length": 1, "sex": null}\n{oops\n')
    assert bad.returncode == 1 and "line 2 (row 1): not valid JSON" in bad.stderr
    missing = _cli(str(model_dir / "mass.onnx"), "/nonexistent/rows.jsonl")
    assert missing.returncode == 1 and "ENOENT" in missing.stderr
