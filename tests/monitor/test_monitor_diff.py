"""`pipeport diff`: two real versions of a model on the same rows (a file, a real server's logs,
a shadow log) report the flips and shifts a direct comparison of the two scikit-learn pipelines
shows; limits turn it into a CI gate; versions with different inputs are compared on what both
accept."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from monitor_testkit import holdout_rows, send_in_requests, stop, train_version

from pipeport.cli import main as pipeport


def _report(directory: Path) -> dict:
    return json.loads((directory / "report.json").read_text())


@pytest.fixture(scope="module")
def direct(versions: dict[str, Path]) -> dict:
    """v1 and v2 compared directly: both scikit-learn pipelines on v1's held-out rows."""
    holdout = pd.read_csv(versions["v1"] / "holdout.csv")
    old = joblib.load(versions["v1"] / "sklearn_pipeline.joblib")
    new = joblib.load(versions["v2"] / "sklearn_pipeline.joblib")
    labels_old, labels_new = old.predict(holdout), new.predict(holdout)
    classes = [str(c) for c in old.classes_]
    confusion = [
        [int(((labels_old == a) & (labels_new == b)).sum()) for b in classes] for a in classes
    ]
    shift = np.abs(new.predict_proba(holdout) - old.predict_proba(holdout)).max(axis=1)
    changed = int((labels_old != labels_new).sum())
    assert 0 < changed < len(holdout)  # the control: the versions disagree on some rows
    return {
        "classes": classes,
        "confusion": confusion,
        "changed": changed,
        "max_shift": shift.max(),
    }


def _diff(versions: dict[str, Path], out: Path, *extra: str) -> int:
    return pipeport(
        [
            "diff",
            str(versions["v1"] / "pipeline.onnx"),
            str(versions["v2"] / "pipeline.onnx"),
            "--report-dir",
            str(out),
            *extra,
        ]
    )


def _assert_flips(report: dict, direct: dict, rows: int) -> None:
    assert report["rows_compared"] == rows
    assert report["label_changes"] == direct["changed"]
    assert report["confusion"]["old (rows) × new (columns)"] == direct["classes"]
    assert report["confusion"]["counts"] == direct["confusion"]
    assert report["shift"]["max"] == pytest.approx(direct["max_shift"], abs=1e-12)


def test_diff_of_two_versions_reports_the_flips_a_direct_comparison_shows(
    versions, direct, tmp_path, capsys
):
    holdout = versions["v1"] / "holdout.csv"
    rows = len(pd.read_csv(holdout))
    assert _diff(versions, tmp_path / "a", "--data", str(holdout)) == 0  # no limits: information
    report = _report(tmp_path / "a")
    _assert_flips(report, direct, rows)
    moved = report["moved_most"]
    assert sum(m["old_label"] != m["new_label"] for m in moved) == direct["changed"]
    assert moved[0]["old_label"] != moved[0]["new_label"]  # flips listed first
    per_class = {c["class"]: c for c in report["per_class"]}
    lost = [sum(r) - r[i] for i, r in enumerate(direct["confusion"])]
    assert [per_class[c]["lost"] for c in direct["classes"]] == lost
    html = (tmp_path / "a" / "report.html").read_text()
    assert html.count("<svg") == 2 and "Rows that moved most" in html
    capsys.readouterr()

    # limits: a gate for CI
    assert _diff(versions, tmp_path / "b", "--data", str(holdout), "--max-label-changes", "0") == 1
    assert "LIMIT EXCEEDED" in capsys.readouterr().err
    many = f"{direct['changed']}"
    assert _diff(versions, tmp_path / "c", "--data", str(holdout), "--max-label-changes", many) == 0
    share = f"{100 * direct['changed'] / rows + 0.01:.2f}%"
    assert (
        _diff(versions, tmp_path / "d", "--data", str(holdout), "--max-label-changes", share) == 0
    )
    shift = direct["max_shift"]
    assert (
        _diff(versions, tmp_path / "e", "--data", str(holdout), "--max-abs-shift", f"{shift}") == 0
    )
    assert (
        _diff(
            versions, tmp_path / "f", "--data", str(holdout), "--max-abs-shift", f"{shift * 0.99}"
        )
        == 1
    )
    assert _report(tmp_path / "f")["violations"][0].startswith("max |Δ probability|")


def test_diff_on_a_servers_logs_and_on_its_shadow_log(start_server, versions, direct, tmp_path):
    rows = holdout_rows(versions["v1"])
    logs = tmp_path / "logs"
    # v2 in production, v1 (the version it replaces) as its shadow
    server = start_server(
        versions["v2"] / "pipeline.onnx",
        "--log-predictions",
        str(logs),
        "--shadow",
        str(versions["v1"] / "pipeline.onnx"),
    )
    send_in_requests(server, rows)
    stop(server)
    assert _diff(versions, tmp_path / "logged", "--data", str(logs)) == 0
    _assert_flips(_report(tmp_path / "logged"), direct, len(rows))
    assert pipeport(["diff", "--shadow-log", str(logs), "--report-dir", str(tmp_path / "s")]) == 0
    report = _report(tmp_path / "s")
    _assert_flips(report, direct, len(rows))
    assert (report["old"]["version"], report["new"]["version"]) == ("1", "2")
    assert report["moved_most"][0]["where"].startswith("req-")


def test_a_log_line_cut_short_is_skipped_and_said(start_server, versions, tmp_path, capsys):
    logs = tmp_path / "logs"
    server = start_server(
        versions["v2"] / "pipeline.onnx",
        "--log-predictions",
        str(logs),
        "--shadow",
        str(versions["v1"] / "pipeline.onnx"),
        workers=1,
    )
    send_in_requests(server, holdout_rows(versions["v1"])[:10], size=5)
    stop(server)
    (log,) = logs.glob("*.jsonl")
    with log.open("a") as handle:  # a worker killed mid-write
        handle.write('{"id":"cut","time":"2026-01-01T00:00:00.000000Z","model":{"name')
    capsys.readouterr()
    for out, args in (
        (tmp_path / "d", ["--data", str(logs)]),
        (tmp_path / "s", ["--shadow-log", str(logs)]),
    ):
        if args[0] == "--data":
            assert _diff(versions, out, *args) == 0
        else:
            assert pipeport(["diff", *args, "--report-dir", str(out)]) == 0
        assert "10 of 10 rows compared; 1 unreadable log lines skipped" in capsys.readouterr().out
        report = _report(out)
        assert [line["where"] for line in report["skipped_lines"]] == [f"{log.name}:3"]
        assert "cut short" in report["skipped_lines"][0]["why"]
        assert "Log lines skipped" in (out / "report.html").read_text()


def test_versions_with_different_inputs_are_compared_on_what_both_accept(
    versions, tmp_path, capsys
):
    v3 = train_version(tmp_path, "3", 10, drop=("year",))
    holdout = pd.read_csv(versions["v1"] / "holdout.csv")
    old, new = str(versions["v1"] / "pipeline.onnx"), str(v3 / "pipeline.onnx")
    out = tmp_path / "report"
    assert (
        pipeport(
            [
                "diff",
                old,
                new,
                "--data",
                str(versions["v1"] / "holdout.csv"),
                "--report-dir",
                str(out),
            ]
        )
        == 0
    )
    report = _report(out)
    assert report["schema_changes"] == {"only_old": ["year"], "only_new": [], "changed": []}
    assert report["rows_compared"] == len(holdout)
    assert "only old ['year']" in capsys.readouterr().out
    # rows without "year": the old version refuses them all, nothing is compared
    without = tmp_path / "without-year.csv"
    holdout.drop(columns=["year"]).to_csv(without, index=False)
    assert pipeport(["diff", old, new, "--data", str(without), "--report-dir", str(out)]) == 1
    report = _report(out)
    assert report["rows_compared"] == 0
    assert report["refused"]["old"]["rows"] == len(holdout)
    assert report["refused"]["new"]["rows"] == 0
    assert report["refused"]["old"]["examples"][0]["why"].startswith("year: missing field")
    assert report["violations"] == ["no row was accepted by both versions: nothing was compared"]
