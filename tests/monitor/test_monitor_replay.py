"""`pipeport replay`: a real server logs what it answers, and the log is replayed against the
research pipeline. An honest model passes; a tampered one fails, naming exactly the rows a direct
comparison shows; the drift summary counts against the training rows' ranges."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import joblib
import onnx
import pandas as pd
from monitor_testkit import holdout_rows, post, send_in_requests, stop
from onnx import numpy_helper

from pipeport.cli import main as pipeport
from pipeport.contract import frame_to_feeds
from pipeport.export.parity import compare
from pipeport.serving.model import load_model

EDGE_ROWS = [
    {  # missing values
        "bill_length_mm": None,
        "bill_depth_mm": 18.7,
        "flipper_length_mm": 181,
        "body_mass_g": None,
        "year": 2007,
        "island": "Torgersen",
        "sex": None,
    },
    {  # an island training never saw, a bill longer than any in training
        "bill_length_mm": 99.5,
        "bill_depth_mm": 17.0,
        "flipper_length_mm": 200,
        "body_mass_g": 4000,
        "year": 2009,
        "island": "Mars",
        "sex": "male",
    },
]


def _report(directory: Path) -> dict:
    return json.loads((directory / "report.json").read_text())


def test_logged_requests_replayed_against_scikit_learn_pass(
    start_server, versions, tmp_path, capsys
):
    directory = versions["v1"]
    logs = tmp_path / "logs"
    server = start_server(directory / "pipeline.onnx", "--log-predictions", str(logs))
    rows = holdout_rows(directory)
    send_in_requests(server, rows)
    post(server, "/invocations", {"dataframe_records": EDGE_ROWS}, "mlflow-1")
    columns = list(EDGE_ROWS[0])
    numeric = {"bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"}
    tensors = [
        {
            "name": c,
            "datatype": "FP64" if c in numeric else "BYTES",
            "shape": [2, 1],
            "data": [
                r[c] if r[c] is not None else ("NaN" if c in numeric else "") for r in EDGE_ROWS
            ],
        }
        for c in columns
    ]
    post(server, "/v2/models/penguins-species/infer", {"inputs": tensors}, "v2-1")
    stop(server)

    out = tmp_path / "report"
    code = pipeport(
        [
            "replay",
            str(logs),
            "--against",
            str(directory),
            "--against",
            str(directory / "pipeline.onnx"),
            "--report-dir",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = _report(out)
    assert report["passed"] is True
    assert report["logs"]["rows"] == len(rows) + 4
    assert report["logs"]["requests"] == -(-len(rows) // 7) + 2
    assert [t["status"] for t in report["targets"]] == ["passed", "passed"]
    assert [t["rows_compared"] for t in report["targets"]] == [len(rows) + 4] * 2
    assert "replay PASSED" in printed

    # drift, counted independently from the training rows' ranges in train_manifest.json
    manifest = json.loads((directory / "train_manifest.json").read_text())
    features = {f["name"]: f for f in manifest["features"]}
    frame = pd.concat([pd.DataFrame(rows), pd.DataFrame(EDGE_ROWS * 2)], ignore_index=True)
    drift = report["drift"]["columns"]
    for name in numeric:
        values = pd.to_numeric(frame[name])
        assert drift[name]["missing"] == int(values.isna().sum()), name
        assert drift[name]["below_range"] == int((values < features[name]["min"]).sum()), name
        assert drift[name]["above_range"] == int((values > features[name]["max"]).sum()), name
    for name in ("island", "sex"):
        known = set(features[name]["categories"])
        unseen = [v for v in frame[name] if pd.notna(v) and v not in known]
        assert drift[name]["unseen_category"] == len(unseen), name
        assert drift[name]["missing"] == int(frame[name].isna().sum()), name
    assert drift["island"]["unseen_category"] == 2  # Mars, through MLflow and V2
    assert drift["bill_length_mm"]["below_range"] >= 1  # held-out rows below the training min
    assert (out / "report.html").read_text().count("<svg") >= 4


def _move_a_split(model: onnx.ModelProto) -> None:
    """One split of the first tree moved by half a standard deviation."""
    tree = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
    attr = next(a for a in tree.attribute if a.name == "nodes_splits")
    splits = numpy_helper.to_array(attr.t).copy()
    splits[0] += 0.5
    attr.t.CopyFrom(numpy_helper.from_array(splits, attr.t.name))


def test_a_tampered_model_in_production_fails_replay_naming_its_rows(
    start_server, versions, tmp_path, capsys
):
    directory = shutil.copytree(versions["v1"], tmp_path / "tampered")
    model = onnx.load(str(directory / "pipeline.onnx"))
    _move_a_split(model)
    onnx.save(model, str(directory / "pipeline.onnx"))
    logs = tmp_path / "logs"
    server = start_server(directory / "pipeline.onnx", "--log-predictions", str(logs))
    rows = holdout_rows(directory)
    ids = send_in_requests(server, rows)
    stop(server)

    # what a direct comparison of the tampered graph with scikit-learn shows, row by row
    holdout = pd.read_csv(directory / "holdout.csv")
    loaded = load_model(directory / "pipeline.onnx")
    label, probabilities = loaded.session.run(
        ["label", "probabilities"], frame_to_feeds(holdout, loaded.schema)
    )
    pipeline = joblib.load(directory / "sklearn_pipeline.joblib")
    direct = compare(
        "classification",
        {"label": pipeline.predict(holdout), "probabilities": pipeline.predict_proba(holdout)},
        {"label": label, "probabilities": probabilities},
        holdout,
    )
    expected = {(ids[i], i % 7) for i in direct.outside}
    assert 0 < len(expected) < len(rows)  # the control: some rows moved, not all

    out = tmp_path / "report"
    assert (
        pipeport(["replay", str(logs), "--against", str(directory), "--report-dir", str(out)]) == 1
    )
    printed = capsys.readouterr().out
    assert "replay FAILED" in printed
    (target,) = _report(out)["targets"]
    assert target["status"] == "failed"
    named = {(m["request_id"], m["row_in_request"]) for m in target["mismatches"]}
    assert named == expected
    first = direct.outside[0]  # the CLI prints the first rows outside tolerance
    assert f"request {ids[first]} row {first % 7} (" in printed
    assert all(re.fullmatch(r"predictions-.+\.jsonl:\d+", m["log"]) for m in target["mismatches"])


def test_a_line_cut_short_by_a_crash_is_skipped_and_said(start_server, versions, tmp_path):
    directory = versions["v1"]
    logs = tmp_path / "logs"
    server = start_server(directory / "pipeline.onnx", "--log-predictions", str(logs), workers=1)
    rows = holdout_rows(directory)[:10]
    send_in_requests(server, rows, size=5)
    stop(server)
    (log,) = logs.glob("*.jsonl")
    with log.open("a") as handle:
        handle.write('{"id":"cut","time":"2026-01-01T00:00:00.000000Z","model":{"name')
    out = tmp_path / "report"
    assert (
        pipeport(["replay", str(log), "--against", str(directory), "--report-dir", str(out)]) == 0
    )
    report = _report(out)
    assert report["logs"]["rows"] == 10
    assert report["logs"]["skipped_lines"] == [
        {"where": f"{log.name}:3", "why": report["logs"]["skipped_lines"][0]["why"]}
    ]
    assert "cut short" in report["logs"]["skipped_lines"][0]["why"]


def test_logs_of_two_models_need_the_model_picked(start_server, versions, tmp_path, capsys):
    logs = tmp_path / "logs"
    for name in ("v1", "v2"):
        server = start_server(
            versions[name] / "pipeline.onnx", "--log-predictions", str(logs), workers=1
        )
        send_in_requests(server, holdout_rows(versions[name])[:6], size=3)
        stop(server)
    out = tmp_path / "report"
    assert (
        pipeport(["replay", str(logs), "--against", str(versions["v1"]), "--report-dir", str(out)])
        == 2
    )
    error = capsys.readouterr().err
    assert "the logs hold requests of 2 models" in error and "--model-sha256" in error
    sha = load_model(versions["v2"] / "pipeline.onnx").sha256
    code = pipeport(
        [
            "replay",
            str(logs),
            "--against",
            str(versions["v2"]),
            "--model-sha256",
            sha[:10],
            "--report-dir",
            str(out),
        ]
    )
    assert code == 0
    assert _report(out)["model"]["version"] == "2"
    assert _report(out)["logs"]["rows"] == 6
