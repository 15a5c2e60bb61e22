"""`pipeport predict --engine dask` on a real LocalCluster of worker processes (loopback): the
same output as the local engine, byte for byte once sorted by row, and the same errors."""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dask_testkit import (
    PENGUINS,
    csv_parts,
    error_line,
    local,
    manifest,
    on_dask,
    on_local,
    parquet_parts_as_csv,
    penguin_rows,
    run_cli,
    write_csv,
)


@pytest.fixture(scope="module")
def penguin_csv(tmp_path_factory):
    """1,500 raw rows: BOM, CRLF, blank lines, missing markers, and multi-line quoted notes
    (so that byte ranges split inside quoted fields and must be merged)."""
    folder = tmp_path_factory.mktemp("penguin-csv")
    return write_csv(folder / "rows.csv", penguin_rows(1500), bom=True, crlf=True, blank_every=7)


def test_csv_parts_are_the_local_engines_output_byte_for_byte(penguins, penguin_csv, tmp_path):
    expected = local(penguins, penguin_csv, tmp_path / "local.csv", "--ignore-unknown-columns")
    result = on_dask(
        penguins,
        penguin_csv,
        tmp_path / "out",
        "--ignore-unknown-columns",
        "--output-format",
        "csv",
        "--partition-rows",
        "40",
    )
    assert result.returncode == 0, result.stderr
    assert csv_parts(tmp_path / "out") == expected
    written = manifest(tmp_path / "out")
    assert written["rows"] == 1500
    assert len(written["parts"]) > 10  # the input really was split
    assert [p["first_row"] for p in written["parts"]] == sorted(
        p["first_row"] for p in written["parts"]
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [p["file"] for p in written["parts"]] + ["_pipeport.json"]
    )
    assert f"wrote 1500 predictions to {tmp_path / 'out'}/" in result.stderr


def test_parquet_parts_hold_the_same_values_and_the_kept_ids(penguins, penguin_csv, tmp_path):
    expected = local(penguins, penguin_csv, tmp_path / "local.csv", "--ignore-unknown-columns")
    result = on_dask(
        penguins,
        penguin_csv,
        tmp_path / "out",
        "--ignore-unknown-columns",
        "--keep-columns",
        "id,species",
        "--partition-rows",
        "300",
    )
    assert result.returncode == 0, result.stderr
    assert parquet_parts_as_csv(tmp_path / "out", drop=("id", "species")) == expected
    table = pa.concat_tables(pq.read_table(p) for p in sorted((tmp_path / "out").glob("*.parquet")))
    assert table.column_names[:3] == ["row", "id", "species"]
    with penguin_csv.open(newline="", encoding="utf-8-sig") as handle:
        source = list(csv.DictReader(handle))
    rows = table.column("row").to_pylist()
    assert rows == list(range(1500))
    assert table.column("id").to_pylist() == [source[r]["id"] for r in rows]
    assert table.column("species").to_pylist() == [source[r]["species"] for r in rows]


def test_parquet_files_of_a_glob_are_numbered_through_in_path_order(penguins, tmp_path):
    import pandas as pd

    frame = pd.read_csv(PENGUINS).sample(900, replace=True, random_state=1)
    frame.insert(0, "id", range(900))  # integers, floats with nulls, text with nulls
    whole = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(whole, tmp_path / "all.parquet", row_group_size=100)
    (tmp_path / "parts").mkdir()
    for number, start in enumerate((0, 250, 600)):
        end = {0: 250, 250: 600, 600: 900}[start]
        pq.write_table(
            whole.slice(start, end - start),
            tmp_path / "parts" / f"b{number}.parquet",
            row_group_size=70,
        )
    expected = local(
        penguins, tmp_path / "all.parquet", tmp_path / "local.csv", "--ignore-unknown-columns"
    )
    result = on_dask(
        penguins,
        str(tmp_path / "parts" / "*.parquet"),
        tmp_path / "out",
        "--ignore-unknown-columns",
        "--output-format",
        "csv",
        "--partition-rows",
        "100",
    )
    assert result.returncode == 0, result.stderr
    assert csv_parts(tmp_path / "out") == expected
    assert manifest(tmp_path / "out")["inputs"] == [
        str(tmp_path / "parts" / f"b{n}.parquet") for n in range(3)
    ]


def test_a_bad_row_is_reported_as_the_local_engine_reports_it(penguins, tmp_path):
    rows = penguin_rows(400, seed=2)
    rows[237]["flipper_length_mm"] = "long"
    source = write_csv(tmp_path / "rows.csv", rows)
    local_run = on_local(penguins, source, tmp_path / "l.csv", "--ignore-unknown-columns")
    dask_run = on_dask(
        penguins, source, tmp_path / "out", "--ignore-unknown-columns", "--partition-rows", "50"
    )
    assert local_run.returncode == dask_run.returncode == 2
    assert error_line(dask_run) == error_line(local_run)
    assert error_line(dask_run) == (
        "pipeport predict: error: row 237, column 'flipper_length_mm': 'long' is not a number"
    )
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written is left


def test_many_bad_rows_show_the_first_ones_then_a_count(penguins, tmp_path):
    rows = penguin_rows(600, seed=3)
    bad = list(range(5, 600, 24))  # 25 rows, in every partition
    for i in bad:
        rows[i]["bill_depth_mm"] = f"deep{i}"
    source = write_csv(tmp_path / "rows.csv", rows)
    local_run = on_local(penguins, source, tmp_path / "l.csv", "--ignore-unknown-columns")
    dask_run = on_dask(
        penguins, source, tmp_path / "out", "--ignore-unknown-columns", "--partition-rows", "60"
    )
    assert dask_run.returncode == 2
    first_ten = "; ".join(
        f"row {i}, column 'bill_depth_mm': 'deep{i}' is not a number" for i in bad[:10]
    )
    assert error_line(local_run) == f"pipeport predict: error: {first_ten}"
    assert error_line(dask_run) == f"pipeport predict: error: {first_ten}; and 15 more"
    assert list((tmp_path / "out").iterdir()) == []


def test_parquet_values_the_contract_refuses_are_named_as_the_local_engine_names_them(
    models, tmp_path
):
    table = pa.table(
        {
            "bill length (mm)": pa.array([40.0, float("nan"), None, 41.0], pa.float64()),
            "island": pa.array(["Dream", "Biscoe", None, "Dream\x00"], pa.string()),
        }
    )
    pq.write_table(table, tmp_path / "rows.parquet")
    local_run = on_local(models["classifier"], tmp_path / "rows.parquet", tmp_path / "l.csv")
    dask_run = on_dask(models["classifier"], tmp_path / "rows.parquet", tmp_path / "out")
    assert local_run.returncode == dask_run.returncode == 2
    assert error_line(dask_run) == error_line(local_run)
    assert "row 1, column 'bill length (mm)': NaN is not allowed" in error_line(dask_run)
    assert "row 3, column 'island'" in error_line(dask_run)


def test_a_directory_of_csv_files_and_a_regressor(models, tmp_path):
    (tmp_path / "in").mkdir()
    lines = [f"{30 + i * 0.25},{('Dream', 'Biscoe', '', 'NA')[i % 4]}" for i in range(90)]
    for number in range(3):
        body = "\n".join(lines[number * 30 : (number + 1) * 30])
        (tmp_path / "in" / f"{number}.csv").write_text(f"bill length (mm),island\n{body}\n")
    (tmp_path / "all.csv").write_text("bill length (mm),island\n" + "\n".join(lines) + "\n")
    expected = local(models["regressor"], tmp_path / "all.csv", tmp_path / "local.csv")
    result = on_dask(
        models["regressor"],
        tmp_path / "in",
        tmp_path / "out",
        "--output-format",
        "csv",
        "--partition-rows",
        "8",
        "--progress",
        "always",
    )
    assert result.returncode == 0, result.stderr
    assert csv_parts(tmp_path / "out") == expected
    assert csv_parts(tmp_path / "out").splitlines()[0] == "row,prediction"
    assert "predict [" in result.stderr  # the local engine's progress bar, per partition
    assert "100% 90 rows" in result.stderr


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--keep-columns", "nope"), "--keep-columns ['nope'] are not columns of the input"),
        (("--keep-columns", "label"), "--keep-columns ['label'] would clash"),
        (
            ("--scheduler", "tcp://127.0.0.1:1", "--workers", "2"),
            "--workers sizes the LocalCluster",
        ),
    ],
)
def test_option_mistakes_are_one_line_errors(models, tmp_path, extra, needle):
    (tmp_path / "rows.csv").write_text("bill length (mm),island,label\n40,Dream,x\n")
    result = run_cli(
        "predict",
        str(models["classifier"]),
        "--input",
        str(tmp_path / "rows.csv"),
        "--output",
        str(tmp_path / "out"),
        "--engine",
        "dask",
        *extra,
    )
    assert result.returncode == 2
    assert needle in error_line(result)
    assert "Traceback" not in result.stderr


def test_the_output_directory_must_be_new_or_empty(models, tmp_path):
    (tmp_path / "rows.csv").write_text("bill length (mm),island\n40,Dream\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.parquet").write_bytes(b"")
    result = run_cli(
        "predict",
        str(models["classifier"]),
        "--input",
        str(tmp_path / "rows.csv"),
        "--output",
        str(tmp_path / "out"),
        "--engine",
        "dask",
    )
    assert result.returncode == 2
    assert "is not empty" in error_line(result)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.parquet"]


def test_dask_options_need_engine_dask(models, tmp_path):
    (tmp_path / "rows.csv").write_text("bill length (mm),island\n40,Dream\n")
    result = run_cli(
        "predict",
        str(models["classifier"]),
        "--input",
        str(tmp_path / "rows.csv"),
        "--output",
        str(tmp_path / "p.csv"),
        "--workers",
        "2",
    )
    assert result.returncode == 2
    assert error_line(result) == "pipeport predict: error: --workers needs --engine dask"


def test_predict_help_explains_the_dask_engine():
    result = run_cli("predict", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for option in (
        "--engine {local,dask}",
        "--scheduler ADDRESS",
        "--workers WORKERS",
        "--memory-limit SIZE",
        "--keep-columns COL,...",
        "--output-format {parquet,csv}",
        "--partition-rows PARTITION_ROWS",
        "pip install 'pipeport[dask]'",
        "docs/batch.md",
    ):
        assert option in text, option
