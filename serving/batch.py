"""`pipeport predict`: score a CSV, JSONL or Parquet file offline, in chunks, with the same
validation and feeds code as the server (serving.feeds: raw_rows_to_feeds for rows,
columns_to_feeds for CSV columns).

No pandas: CSV is read with the csv module (an empty field is missing; numeric columns must
parse as finite floats), JSONL with json (one raw row per line, as in a /v1/predict request).
Parquet needs pyarrow, which the serve extra does not install. The output CSV is written to a
temporary file and renamed at the end, so a failed run never leaves half a file behind.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from pipeport.contract import (
    NonFiniteToken,
    RawInputError,
    columns_to_feeds,
    csv_cell_reader,
    raw_rows_to_feeds,
)
from pipeport.serving.model import LoadedModel, ModelSchema
from pipeport.serving.outputs import OutputFormatter

MAX_REPORTED = 10
_NAN = float("nan")
# A chunk is (first row, payload, fraction of the input read). The payload is raw rows (JSONL,
# Parquet: validated by raw_rows_to_feeds, as a request body is) or, for CSV, columns already
# parsed into the graph's encoding (float with NaN / str with "") for columns_to_feeds, which
# builds the tensors without a dict per row.
Rows = list[dict[str, Any]]
Columns = dict[str, list[Any]]
Chunk = tuple[int, "Rows | Columns | _ParquetBatch", float]


class BatchError(Exception):
    """A problem with the input or output file; the message names the row and column."""


def predict_file(
    model: LoadedModel,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_size: int = 10_000,
    ignore_unknown_columns: bool = False,
    progress: str = "auto",
    stderr: IO[str] | None = None,
) -> int:
    """Score every row of `input_path` into `output_path`; returns the number of rows."""
    input_path, output_path = Path(input_path), Path(output_path)
    stderr = stderr or sys.stderr
    if not input_path.is_file():
        raise BatchError(f"input file not found: {input_path}")
    suffix = input_path.suffix.lower()
    readers = {
        ".csv": _csv_chunks,
        ".jsonl": _jsonl_chunks,
        ".ndjson": _jsonl_chunks,
        ".parquet": _parquet_chunks,
    }
    if suffix not in readers:
        raise BatchError(f"cannot read {input_path.name}: use a .csv, .jsonl or .parquet file")
    schema = model.schema
    formatter = OutputFormatter(schema)
    chunks = readers[suffix](input_path, schema, chunk_size, ignore_unknown_columns)
    bar = _Progress(stderr, progress)
    tmp = output_path.with_name(f".{output_path.name}.partial")
    total = 0
    try:
        with tmp.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["row", *formatter.csv_header()])
            for first_row, payload, fraction in chunks:
                try:
                    if isinstance(payload, _ParquetBatch):
                        feeds = parquet_feeds(payload.batch, schema, first_row)
                    elif isinstance(payload, dict):
                        feeds = columns_to_feeds(payload, schema, first_row=first_row)
                    else:
                        feeds = raw_rows_to_feeds(payload, schema, first_row=first_row)
                except RawInputError as exc:
                    raise BatchError(_summarise(exc)) from None
                outputs = model.run(formatter.onnx_names, feeds)
                rows_out = formatter.csv_rows(outputs)
                writer.writerows([first_row + i, *values] for i, values in enumerate(rows_out))
                total += len(rows_out)
                bar.update(fraction, total)
        os.replace(tmp, output_path)
    except OSError as exc:
        raise BatchError(f"cannot write {output_path}: {exc.strerror or exc}") from None
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    return total


def _summarise(exc: RawInputError) -> str:
    shown = [_where(e.row, e.field) + e.problem for e in exc.errors[:MAX_REPORTED]]
    more = len(exc.errors) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _where(row: int | None, field: str | None) -> str:
    parts = ([f"row {row}"] if row is not None else []) + (
        [f"column {field!r}"] if field is not None else []
    )
    return ", ".join(parts) + ": " if parts else ""


def _check_columns(names: list[str], schema: ModelSchema, ignore_unknown: bool) -> None:
    expected = schema.input_names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    missing = [n for n in expected if n not in names]
    unknown = [n for n in names if n not in expected and n not in schema.unused_columns]
    problems = []
    if duplicates:
        problems.append(f"duplicate columns {duplicates}")
    if missing:
        problems.append(f"missing columns {missing}")
    if unknown and not ignore_unknown:
        problems.append(f"unknown columns {unknown} (pass --ignore-unknown-columns to drop them)")
    if problems:
        raise BatchError("input " + "; ".join(problems) + f"; the model expects {list(expected)}")


def _csv_chunks(path: Path, schema: ModelSchema, chunk_size: int, ignore: bool) -> Iterator[Chunk]:
    size = max(path.stat().st_size, 1)
    with path.open("r", newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise BatchError(f"{path.name} is empty (expected a header row)") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BatchError(f"{path.name}: cannot read the header: {exc}") from None
        _check_columns(header, schema, ignore)
        plan = [
            (spec.name, header.index(spec.name), csv_cell_reader(spec)) for spec in schema.inputs
        ]
        columns: Columns = {name: [] for name, _position, _read in plan}
        count = 0
        first = 0
        index = 0
        errors: list[str] = []
        try:
            for record in reader:
                if not record:  # a blank line
                    continue
                if len(record) != len(header):
                    errors.append(
                        f"row {index} (line {reader.line_num}): {len(record)} fields, "
                        f"the header has {len(header)}"
                    )
                else:
                    _csv_row(record, plan, index, errors, columns)
                    count += 1
                index += 1
                if len(errors) >= MAX_REPORTED:
                    break
                if count == chunk_size:
                    _raise_if(errors)
                    yield first, columns, handle.buffer.tell() / size  # type: ignore[attr-defined]
                    columns = {name: [] for name in columns}
                    first, count = index, 0
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BatchError(f"{path.name} near line {reader.line_num}: {exc}") from None
        _raise_if(errors)
        if count:
            yield first, columns, 1.0


def _csv_row(
    record: list[str],
    plan: list[tuple[str, int, Callable[[str], Any]]],
    index: int,
    errors: list[str],
    columns: Columns,
) -> None:
    """Append one CSV record to `columns`, in the graph's encoding (NaN / "" for missing), each
    cell read by the contract's reader for its column (pipeport.contract.csv_cell_reader)."""
    for name, position, read in plan:
        try:
            value = read(record[position])
        except ValueError as exc:
            errors.append(f"row {index}, column {name!r}: {exc}")
            value = _NAN
        columns[name].append(value)


def _raise_if(errors: list[str]) -> None:
    if errors:
        raise BatchError("; ".join(errors[:MAX_REPORTED]))


def _jsonl_chunks(
    path: Path, schema: ModelSchema, chunk_size: int, ignore: bool
) -> Iterator[Chunk]:
    size = max(path.stat().st_size, 1)
    names = set(schema.input_names)
    rows: list[dict[str, Any]] = []
    first = index = 0
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8"), parse_constant=NonFiniteToken)
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise BatchError(
                    f"row {index} (line {line_number}) is not valid JSON: {exc}"
                ) from None
            if ignore and isinstance(row, dict):
                row = {k: v for k, v in row.items() if k in names}
            rows.append(row)
            index += 1
            if len(rows) == chunk_size:
                yield first, rows, handle.tell() / size
                first, rows = index, []
    if rows:
        yield first, rows, 1.0
    elif index == 0:
        raise BatchError(f"{path.name} holds no rows")


def _parquet_chunks(
    path: Path, schema: ModelSchema, chunk_size: int, ignore: bool
) -> Iterator[Chunk]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BatchError(
            "reading Parquet needs pyarrow, which is not installed (it is not part of the "
            "serve extra): pip install pyarrow, or convert the input to CSV or JSONL"
        ) from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a bad file
        raise BatchError(f"{path.name} is not a readable Parquet file: {exc}") from None
    _check_columns(list(parquet.schema_arrow.names), schema, ignore)
    total = max(parquet.metadata.num_rows, 1)
    first = 0
    for batch in parquet.iter_batches(batch_size=chunk_size, columns=list(schema.input_names)):
        yield first, _ParquetBatch(batch), (first + batch.num_rows) / total
        first += batch.num_rows


class _ParquetBatch(NamedTuple):
    """A Parquet record batch, turned into feeds by `parquet_feeds`."""

    batch: Any


def parquet_feeds(batch: Any, schema: ModelSchema, first_row: int) -> dict[str, Any]:
    """Feeds for a Parquet record batch (both engines of `pipeport predict`): plain columns
    (numbers, booleans, text, dictionary text) go to the contract whole; anything else, or a
    batch the contract refuses, is read row by row, which names each problem by row and column
    as the other input formats do. A boolean column is numeric (True is 1.0)."""
    columns = _arrow_columns(batch, schema)
    if columns is not None:
        try:
            return columns_to_feeds(columns, schema, first_row=first_row)
        except RawInputError:
            pass  # the raw-row path names each problem
    rows: Rows = batch.select(list(schema.input_names)).to_pylist()
    numeric = [spec.name for spec in schema.inputs if spec.kind == "numeric"]
    for row in rows:
        for name in numeric:
            if type(row[name]) is bool:
                row[name] = float(row[name])
    return raw_rows_to_feeds(rows, schema, first_row=first_row)


def _arrow_columns(batch: Any, schema: ModelSchema) -> dict[str, Any] | None:
    """Each input column of a Parquet batch in the graph's encoding (float64 with NaN for null,
    str with "" for null), or None when a column holds something whose raw-row reading is not
    that plain (NaN that is not null, a type the contract reads value by value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def is_text(kind: Any) -> bool:
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))

    columns: dict[str, Any] = {}
    for spec in schema.inputs:
        column = batch.column(spec.name)
        kind = column.type
        if spec.kind == "numeric":
            if pa.types.is_floating(kind) and not pa.types.is_float16(kind):
                if pc.any(pc.is_nan(column)).as_py():
                    return None  # NaN that is not null: the raw-row path refuses it by name
            elif not (pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
                return None
            numbers = pc.cast(column, pa.float64(), safe=False)
            columns[spec.name] = numbers.to_numpy(zero_copy_only=False)
        else:
            if pa.types.is_dictionary(kind) and is_text(kind.value_type):
                column = pc.cast(column, kind.value_type)
            elif not is_text(kind):
                return None
            columns[spec.name] = pc.fill_null(column, "").to_numpy(zero_copy_only=False)
    return columns


class _Progress:
    """A one-line progress bar on stderr, shown for inputs longer than one chunk."""

    def __init__(self, stream: IO[str], mode: str) -> None:
        self.stream = stream
        self.enabled = mode == "always" or (mode == "auto" and _isatty(stream))
        self.updates = 0

    def update(self, fraction: float, rows: int) -> None:
        self.updates += 1
        if not self.enabled or (self.updates == 1 and fraction >= 1.0):
            return  # the whole input fit in one chunk: nothing worth a bar
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(fraction * 30)
        self.stream.write(
            f"\rpredict [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {rows} rows"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.updates > 1:
            self.stream.write("\n")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
