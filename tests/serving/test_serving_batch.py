"""`pipeport predict`: offline scoring of CSV, JSONL and Parquet with the server's feeds code."""

from __future__ import annotations

import csv
import io
import json
import re
import sys

import pytest
from model_builders import CATEGORICAL, CLASSES, NUMERIC, expected_classifier
from serving_testkit import run_cli

from pipeport.serving.batch import BatchError, predict_file
from pipeport.serving.model import load_model

ROWS = [(40.0, "Dream"), (None, None), (50.5, "Biscoe"), (33.0, "Atlantis")]


@pytest.fixture(scope="module")
def classifier(classifier_path):
    return load_model(classifier_path)


def write_csv(path, rows, header=(NUMERIC, CATEGORICAL)):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def read_output(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_predictions(output_rows, rows):
    assert [int(r["row"]) for r in output_rows] == list(range(len(rows)))
    for out, (x, island) in zip(output_rows, rows, strict=True):
        expected = expected_classifier(x, island, CLASSES)
        assert out["label"] == expected["label"]
        for key, p in expected["probabilities"].items():
            assert float(out[f"probability_{key}"]) == pytest.approx(p, abs=1e-15)


def test_csv_in_chunks(classifier, tmp_path):
    source = write_csv(tmp_path / "rows.csv", ROWS * 3)
    count = predict_file(classifier, source, tmp_path / "preds.csv", chunk_size=5, progress="never")
    assert count == 12
    check_predictions(read_output(tmp_path / "preds.csv"), ROWS * 3)


def test_jsonl(classifier, tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(json.dumps({NUMERIC: x, CATEGORICAL: i}) for x, i in ROWS) + "\n\n")
    predict_file(classifier, source, tmp_path / "preds.csv", chunk_size=3, progress="never")
    check_predictions(read_output(tmp_path / "preds.csv"), ROWS)


def test_parquet(classifier, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({NUMERIC: [r[0] for r in ROWS], CATEGORICAL: [r[1] for r in ROWS]})
    pq.write_table(table, tmp_path / "rows.parquet")
    predict_file(
        classifier,
        tmp_path / "rows.parquet",
        tmp_path / "preds.csv",
        chunk_size=2,
        progress="never",
    )
    check_predictions(read_output(tmp_path / "preds.csv"), ROWS)


@pytest.mark.parametrize(
    "numbers, islands",
    [
        ([40.0, None, 50.5, 33.0], ["Dream", None, "Biscoe", "Atlantis"]),  # plain: whole columns
        ([40, 41, None, 7], ["Dream", "Dream", "Biscoe", None]),  # int64 with nulls
        ([True, False, None, True], ["Dream", None, "Biscoe", "Dream"]),  # booleans are numbers
        ([40.0, 41.0, 42.0, 43.0], pa_dictionary := "dictionary"),  # a pandas category column
    ],
)
def test_parquet_columns_score_as_their_rows_do(classifier, tmp_path, numbers, islands):
    """Plain Parquet columns go to the contract whole; the same rows as JSON Lines go row by
    row: the output files are byte for byte the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if islands == pa_dictionary:
        islands_array = pa.array(["Dream", "Biscoe", None, "Dream"]).dictionary_encode()
        islands = ["Dream", "Biscoe", None, "Dream"]
    else:
        islands_array = pa.array(islands, pa.string())
    pq.write_table(
        pa.table({NUMERIC: pa.array(numbers), CATEGORICAL: islands_array}), tmp_path / "r.parquet"
    )
    (tmp_path / "r.jsonl").write_text(
        "".join(
            # a Parquet boolean column is numbers (True is 1.0); JSON's true in a numeric
            # column is refused, so the rows say 1.0
            json.dumps({NUMERIC: float(x) if isinstance(x, bool) else x, CATEGORICAL: i}) + "\n"
            for x, i in zip(numbers, islands, strict=True)
        )
    )
    for name in ("r.parquet", "r.jsonl"):
        predict_file(classifier, tmp_path / name, tmp_path / f"{name}.csv", progress="never")
    assert (tmp_path / "r.parquet.csv").read_bytes() == (tmp_path / "r.jsonl.csv").read_bytes()


def test_parquet_rows_the_contract_refuses_are_named_as_before(classifier, tmp_path):
    """A NaN that is not null makes the batch go row by row; an infinity found by the whole
    column check is named by the row path all the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for numbers, needle in (
        ([40.0, float("nan"), 41.0], f"row 1, column '{NUMERIC}': NaN is not allowed"),
        ([40.0, 41.0, float("inf")], f"row 2, column '{NUMERIC}': number is not finite"),
    ):
        table = pa.table({NUMERIC: numbers, CATEGORICAL: ["Dream"] * 3})
        pq.write_table(table, tmp_path / "bad.parquet")
        with pytest.raises(BatchError) as caught:
            predict_file(classifier, tmp_path / "bad.parquet", tmp_path / "o.csv", progress="never")
        assert str(caught.value).startswith(needle), caught.value


def test_parquet_without_pyarrow_says_so(classifier, tmp_path, monkeypatch):
    (tmp_path / "rows.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(BatchError, match="needs pyarrow"):
        predict_file(classifier, tmp_path / "rows.parquet", tmp_path / "out.csv")


def test_regression_output_column(regressor_path, tmp_path):
    source = write_csv(tmp_path / "rows.csv", [(40.0, "Dream")])
    predict_file(load_model(regressor_path), source, tmp_path / "preds.csv", progress="never")
    assert read_output(tmp_path / "preds.csv") == [{"row": "0", "prediction": "81.0"}]


@pytest.mark.parametrize(
    "content, needle",
    [
        (f"{NUMERIC},{CATEGORICAL}\n40,Dream\nforty,Dream\n", f"row 1, column '{NUMERIC}'"),
        (f"{NUMERIC},{CATEGORICAL}\ninf,Dream\n", "not a finite number"),
        (f"{NUMERIC},{CATEGORICAL}\n40,Dream,extra\n", "row 0"),
        (f"{NUMERIC}\n40\n", "missing columns ['island']"),
        (f"{NUMERIC},{CATEGORICAL},species\n40,Dream,Adelie\n", "--ignore-unknown-columns"),
        ("", "empty"),
    ],
)
def test_csv_errors_name_row_and_column(classifier, tmp_path, content, needle):
    (tmp_path / "rows.csv").write_text(content)
    with pytest.raises(BatchError) as caught:
        predict_file(classifier, tmp_path / "rows.csv", tmp_path / "out.csv")
    assert needle in str(caught.value)
    assert not (tmp_path / "out.csv").exists()  # no half-written output
    assert list(tmp_path.glob(".*partial")) == []


def test_unknown_columns_can_be_ignored(classifier, tmp_path):
    write_csv(
        tmp_path / "rows.csv", [(40.0, "Dream", "Adelie")], header=(NUMERIC, CATEGORICAL, "species")
    )
    predict_file(
        classifier,
        tmp_path / "rows.csv",
        tmp_path / "out.csv",
        ignore_unknown_columns=True,
        progress="never",
    )
    assert read_output(tmp_path / "out.csv")[0]["label"] == "Adelie"


def test_jsonl_row_errors_use_the_raw_row_contract(classifier, tmp_path):
    (tmp_path / "rows.jsonl").write_text(json.dumps({NUMERIC: "x", CATEGORICAL: "Dream"}))
    with pytest.raises(BatchError, match=re.escape(f"row 0, column {NUMERIC!r}")):
        predict_file(classifier, tmp_path / "rows.jsonl", tmp_path / "out.csv")


def test_progress_bar_goes_to_stderr_for_long_inputs(classifier, tmp_path):
    source = write_csv(tmp_path / "rows.csv", ROWS * 10)
    stderr = io.StringIO()
    predict_file(
        classifier, source, tmp_path / "out.csv", chunk_size=8, progress="always", stderr=stderr
    )
    assert "\rpredict [" in stderr.getvalue()
    assert "40 rows" in stderr.getvalue()


def test_predict_command(classifier_path, tmp_path):
    source = write_csv(tmp_path / "rows.csv", ROWS)
    result = run_cli(
        "predict",
        str(classifier_path),
        "--input",
        str(source),
        "--output",
        str(tmp_path / "preds.csv"),
    )
    assert result.returncode == 0, result.stderr
    check_predictions(read_output(tmp_path / "preds.csv"), ROWS)
    bad = run_cli(
        "predict",
        str(classifier_path),
        "--input",
        str(tmp_path / "nope.csv"),
        "--output",
        str(tmp_path / "x.csv"),
    )
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == f"pipeport predict: error: input file not found: "
        f"{tmp_path / 'nope.csv'}"
    )


def test_csv_booleans_in_a_numeric_column_score_as_one_and_zero(classifier, tmp_path):
    # pandas.read_csv reads True/False as booleans and scikit-learn trains on them as 1.0/0.0,
    # so a training file with a boolean feature must score offline without editing.
    spelled = write_csv(
        tmp_path / "bools.csv", [("True", "Dream"), ("false", "Biscoe"), ("TRUE", "")]
    )
    numbers = write_csv(tmp_path / "numbers.csv", [(1.0, "Dream"), (0.0, "Biscoe"), (1.0, None)])
    predict_file(classifier, spelled, tmp_path / "a.csv", progress="never")
    predict_file(classifier, numbers, tmp_path / "b.csv", progress="never")
    assert read_output(tmp_path / "a.csv") == read_output(tmp_path / "b.csv")
    check_predictions(
        read_output(tmp_path / "b.csv"), [(1.0, "Dream"), (0.0, "Biscoe"), (1.0, None)]
    )


def test_csv_reads_pandas_missing_markers_as_missing(classifier, tmp_path):
    # The training file was read by pandas.read_csv, for which "NA" or "null" is a missing value:
    # offline scoring must agree, or "NA" would silently become an (unseen) category here.
    markers = write_csv(tmp_path / "markers.csv", [("NaN", "NA"), ("null", "Dream"), (40.0, "N/A")])
    empty = write_csv(tmp_path / "empty.csv", [(None, None), (None, "Dream"), (40.0, None)])
    predict_file(classifier, markers, tmp_path / "a.csv", progress="never")
    predict_file(classifier, empty, tmp_path / "b.csv", progress="never")
    assert read_output(tmp_path / "a.csv") == read_output(tmp_path / "b.csv")


def test_predict_threads_do_not_change_the_output(classifier_path, tmp_path):
    rows = [(30.0 + i * 0.37, ("Dream", "Biscoe", "", "Atlantis")[i % 4]) for i in range(2500)]
    source = write_csv(tmp_path / "rows.csv", rows)
    outputs = []
    for threads in ("1", "2"):
        out = tmp_path / f"preds-{threads}.csv"
        result = run_cli(
            "predict",
            str(classifier_path),
            "--input",
            str(source),
            "--output",
            str(out),
            "--threads",
            threads,
            "--chunk-size",
            "1000",
        )
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    check_predictions(read_output(tmp_path / "preds-1.csv"), [(x, c or None) for x, c in rows])
