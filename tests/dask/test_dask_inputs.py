"""The pieces of --engine dask, in this process (no cluster): CSV byte ranges that split inside
quoted fields, Parquet columns encoded without a dict per row, and idempotent part writes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dask_testkit import csv_parts, penguin_rows, write_csv

from pipeport.dask import read_model
from pipeport.dask_batch import Settings, _count_csv, part_name, score_piece
from pipeport.dask_inputs import Piece, count_csv_piece, plan_csv, plan_parquet
from pipeport.errors import RawInputError
from pipeport.serving.batch import parquet_feeds, predict_file
from pipeport.serving.model import load_model


class InProcess:
    """The three Client calls _count_csv makes, run here."""

    class Done:
        def __init__(self, value: Any) -> None:
            self.value = value

        def result(self) -> Any:
            return self.value

    def map(self, function: Any, items: list[Any], **_: Any) -> list[Any]:
        return [function(item) for item in items]

    def gather(self, values: list[Any]) -> list[Any]:
        return values

    def submit(self, function: Any, item: Any, **_: Any) -> Done:
        return self.Done(function(item))


def score_here(model_path: Path, files: list[Path], out: Path, rows: int, **kw: Any) -> list[Any]:
    model = read_model(model_path)
    plan = plan_csv if files[0].suffix == ".csv" else plan_parquet
    pieces = plan(files, model.schema, kw.get("keep", ()), True, rows)
    if files[0].suffix == ".csv":
        pieces = _count_csv(InProcess(), pieces)
    out.mkdir()
    settings = Settings(str(out), kw.get("format", "csv"), kw.get("keep", ()), 1, 10_000, 5)
    return [score_piece(piece, model.data, model.sha256, settings) for piece in pieces]


def test_a_range_that_ends_inside_a_quoted_field_is_found(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'a,b\n1,"two\nlines"\n3,x\n')
    start = len(b"a,b\n")
    split = len(b'a,b\n1,"two\n')
    inside = count_csv_piece(Piece(0, str(path), "csv", start=start, end=split, header=("a", "b")))
    assert inside.quoted
    whole = count_csv_piece(
        Piece(
            0, str(path), "csv", start=start, end=path.stat().st_size, last=True, header=("a", "b")
        )
    )
    assert (whole.quoted, whole.rows, whole.lines) == (False, 2, 3)


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 8, 13])
def test_csv_split_anywhere_gives_the_local_engines_output(penguins, tmp_path, rows):
    source = write_csv(
        tmp_path / "rows.csv", penguin_rows(60, seed=rows), bom=True, crlf=True, blank_every=4
    )
    predict_file(
        load_model(penguins),
        source,
        tmp_path / "local.csv",
        ignore_unknown_columns=True,
        progress="never",
    )
    results = score_here(penguins, [source], tmp_path / "out", rows)
    assert sum(r.rows for r in results) == 60
    assert csv_parts(tmp_path / "out") == (tmp_path / "local.csv").read_bytes().decode()


def test_line_numbers_of_ragged_rows_count_every_line_of_the_file(models, tmp_path):
    text = 'bill length (mm),island\n40,"Dre\nam"\n\n41,Dream\n42,Dream,extra\n'
    (tmp_path / "rows.csv").write_text(text)
    with pytest.raises(Exception) as caught:
        predict_file(load_model(models["classifier"]), tmp_path / "rows.csv", tmp_path / "l.csv")
    results = score_here(models["classifier"], [tmp_path / "rows.csv"], tmp_path / "out", 1)
    problems = [text for result in results for _row, text in result.problems]
    assert problems == [str(caught.value)] == ["row 2 (line 6): 3 fields, the header has 2"]


PARQUET_COLUMNS = {
    "floats with nulls": pa.array([40.5, None, 33.0, 1e308], pa.float64()),
    "float32": pa.array([40.5, None, 33.25, 1.5], pa.float32()),
    "integers": pa.array([40, None, -3, 2**60 + 1], pa.int64()),
    "unsigned": pa.array([40, 7, 0, 2**64 - 1], pa.uint64()),
    "booleans": pa.array([True, False, None, True], pa.bool_()),
}
ISLANDS = {
    "text": pa.array(["Dream", None, "", "Biscoe"], pa.string()),
    "large text": pa.array(["Dream", None, "Atlantis", "Biscoe"], pa.large_string()),
    "dictionary": pa.array(["Dream", None, "Dream", "x"]).dictionary_encode(),
    "integers as categories": pa.array([1, None, 3, 4], pa.int64()),
}


@pytest.mark.parametrize("number", PARQUET_COLUMNS)
@pytest.mark.parametrize("island", ISLANDS)
def test_parquet_columns_feed_what_the_raw_row_path_feeds(models, tmp_path, number, island):
    table = pa.table({"bill length (mm)": PARQUET_COLUMNS[number], "island": ISLANDS[island]})
    pq.write_table(table, tmp_path / "rows.parquet")
    predict_file(
        load_model(models["classifier"]),
        tmp_path / "rows.parquet",
        tmp_path / "local.csv",
        progress="never",
    )
    score_here(models["classifier"], [tmp_path / "rows.parquet"], tmp_path / "out", 10)
    assert csv_parts(tmp_path / "out") == (tmp_path / "local.csv").read_bytes().decode()


def test_nan_that_is_not_null_takes_the_raw_row_path_and_its_message(models):
    schema = load_model(models["classifier"]).schema
    batch = pa.record_batch(
        {"bill length (mm)": pa.array([1.0, float("nan")]), "island": pa.array(["a", "b"])}
    )
    with pytest.raises(RawInputError) as caught:
        parquet_feeds(batch, schema, first_row=7)
    assert [(e.row, e.field) for e in caught.value.errors] == [(8, "bill length (mm)")]
    assert "NaN is not allowed; send null for a missing value" in caught.value.errors[0].problem


def test_a_piece_written_twice_gives_the_same_file_and_no_temporary_is_left(models, tmp_path):
    (tmp_path / "rows.csv").write_text("bill length (mm),island\n40,Dream\n41,\n")
    model = read_model(models["classifier"])
    (piece,) = _count_csv(
        InProcess(), plan_csv([tmp_path / "rows.csv"], model.schema, (), False, 10)
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / f".{'part-00000.parquet'}.deadbeef.tmp").write_bytes(b"half a file from a dead worker")
    settings = Settings(str(out), "parquet", (), 1, 10_000, 5)
    score_piece(piece, model.data, model.sha256, settings)
    first = (out / part_name(0, settings)).read_bytes()
    score_piece(piece, model.data, model.sha256, settings)
    assert (out / part_name(0, settings)).read_bytes() == first
    assert sorted(p.name for p in out.iterdir()) == [
        ".part-00000.parquet.deadbeef.tmp",  # only the dead worker's, removed at the end of a run
        "part-00000.parquet",
    ]
    assert pq.read_table(io.BytesIO(first)).column("row").to_pylist() == [0, 1]
