"""The input side of `pipeport predict --engine dask`: files split into pieces (on the client),
and each piece read into feeds by the rules of single-machine `pipeport predict` (on a worker).

CSV is read as text, cell by cell, with the contract's `csv_cell_reader` through the same code as
serving/batch.py, never with pandas' type inference. A file is split at line breaks into byte
ranges of about `partition_rows` rows; a first pass on the cluster counts each range's rows and
lines (so every row keeps its number in the file, and an error its line), and merges a range with
the next where a quoted field holds the line break it was split at.

Parquet is split by row groups and read with pyarrow, as serving/batch.py reads it: its batches
as raw rows through `raw_rows_to_feeds`, a boolean numeric column as 1.0/0.0. Columns of plain
numbers and text are first encoded column-wise (no dict per row) and checked with
`columns_to_feeds`; a batch that this refuses, or that holds anything else, takes the raw-row
path, so the feeds and the messages are exactly those of the single-machine command.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from pipeport.contract import RawInputError, columns_to_feeds, csv_cell_reader
from pipeport.schema import ModelSchema
from pipeport.serving.batch import (
    BatchError,
    _check_columns,
    _csv_row,
    _where,
    parquet_feeds,
)

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Ends a piece's text when it is counted: a piece that ends inside a quoted field swallows it.
_SENTINEL = "\x00pipeport: end of piece\x00"
_BOM = b"\xef\xbb\xbf"

Problem = tuple[int, str]  # (row, message): sorted by row across pieces


@dataclass(frozen=True)
class Piece:
    """One partition: a byte range of a CSV file or row groups of a Parquet file."""

    number: int
    path: str
    kind: str  # "csv" or "parquet"
    first_row: int = 0  # the number of its first row in the whole input
    rows: int = -1  # known for Parquet; counted on the cluster for CSV
    label: str = ""  # the file's name in messages (multi-file inputs), else ""
    # CSV
    start: int = 0
    end: int = 0
    last: bool = False  # the file's last range (may end without a line break)
    header: tuple[str, ...] = ()
    first_line: int = 0  # line number of its first line in the file (the header is line 1)
    # Parquet
    row_groups: tuple[int, ...] = ()


@dataclass
class Chunk:
    """Up to chunk_size rows of a piece: feeds, or the problems that stop them being fed."""

    first_row: int
    size: int
    feeds: dict[str, np.ndarray] | None
    kept: dict[str, Any] = field(default_factory=dict)  # lists (CSV text) or Arrow arrays
    problems: list[Problem] = field(default_factory=list)


def find_inputs(pattern: str) -> list[Path]:
    """The input files: one file, a directory's .csv/.parquet files, or a glob, sorted by path
    (rows are numbered through the files in that order)."""
    path = Path(pattern)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and _visible(p))
    else:
        anchor = Path(path.anchor or ".")
        relative = str(path.relative_to(anchor)) if path.anchor else pattern
        files = sorted(p for p in anchor.glob(relative) if p.is_file() and _visible(p))
    if not files:
        raise BatchError(f"no input file matches {pattern}")
    kinds = {SUFFIXES.get(p.suffix.lower()) for p in files}
    if None in kinds:
        odd = next(p for p in files if p.suffix.lower() not in SUFFIXES)
        raise BatchError(f"cannot read {odd.name} with --engine dask: use .csv or .parquet files")
    if len(kinds) > 1:
        raise BatchError(f"{pattern} mixes CSV and Parquet files: score them separately")
    return files


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def _label(files: list[Path], path: Path) -> str:
    return path.name if len(files) > 1 else ""


def check_names(names: list[str], schema: ModelSchema, keep: tuple[str, ...], ignore: bool) -> None:
    """Columns as `pipeport predict` checks them; kept columns are not unknown columns."""
    absent = [name for name in keep if name not in names]
    if absent:
        raise BatchError(f"--keep-columns {absent} are not columns of the input; it has {names}")
    used = set(schema.input_names) | set(schema.unused_columns)
    _check_columns([n for n in names if n not in keep or n in used], schema, ignore)


# -- planning (on the client) ---------------------------------------------------------------------


def plan_parquet(
    files: list[Path], schema: ModelSchema, keep: tuple[str, ...], ignore: bool, rows: int
) -> list[Piece]:
    """Row groups of each file, grouped up to `rows` rows a piece (a larger group is a piece)."""
    pieces: list[Piece] = []
    first = 0
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises its own error types for a bad file
            raise BatchError(f"{path.name} is not a readable Parquet file: {exc}") from None
        check_names(list(parquet.schema_arrow.names), schema, keep, ignore)
        groups: list[int] = []
        count = 0
        for group in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if groups and count + size > rows:
                pieces.append(_parquet_piece(pieces, path, groups, first, count, files))
                first, groups, count = first + count, [], 0
            groups.append(group)
            count += size
        if count:
            pieces.append(_parquet_piece(pieces, path, groups, first, count, files))
            first += count
    return pieces


def _parquet_piece(
    pieces: list[Piece], path: Path, groups: list[int], first: int, rows: int, files: list[Path]
) -> Piece:
    return Piece(
        len(pieces),
        str(path),
        "parquet",
        first_row=first,
        rows=rows,
        label=_label(files, path),
        row_groups=tuple(groups),
    )


def plan_csv(
    files: list[Path], schema: ModelSchema, keep: tuple[str, ...], ignore: bool, rows: int
) -> list[Piece]:
    """Byte ranges of about `rows` rows (from the size of the first lines), each starting just
    after a line break. Row and line numbers are filled in by `number_pieces` once counted."""
    pieces: list[Piece] = []
    for path in files:
        header, start, header_lines = _read_header(path)
        check_names(header, schema, keep, ignore)
        size = path.stat().st_size
        target = _bytes_per_row(path, start) * rows
        with path.open("rb") as handle:
            while start < size:
                end = _next_line_start(handle, start + target, size)
                pieces.append(
                    Piece(
                        len(pieces),
                        str(path),
                        "csv",
                        label=_label(files, path),
                        start=start,
                        end=end,
                        last=end >= size,
                        header=tuple(header),
                        first_line=header_lines + 1,
                    )
                )
                start = end
    return pieces


def _read_header(path: Path) -> tuple[list[str], int, int]:
    """The header record, the byte offset just after it and the lines it took."""
    with path.open("rb") as handle:
        offset = len(_BOM) if handle.read(len(_BOM)) == _BOM else 0
        handle.seek(offset)
        used = [offset]

        def lines() -> Iterator[str]:
            for raw in handle:
                used[0] += len(raw)
                yield raw.decode("utf-8")

        reader = csv.reader(lines())
        try:
            header = next(reader)
        except StopIteration:
            raise BatchError(f"{path.name} is empty (expected a header row)") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BatchError(f"{path.name}: cannot read the header: {exc}") from None
        return header, used[0], reader.line_num


def _bytes_per_row(path: Path, start: int) -> int:
    with path.open("rb") as handle:
        handle.seek(start)
        sample = handle.read(1 << 20)
    return max(len(sample) // max(sample.count(b"\n"), 1), 1)


def _next_line_start(handle: Any, position: int, size: int) -> int:
    """The offset just after the first line break at or after `position` (or the file's end)."""
    if position >= size:
        return size
    handle.seek(position)
    while True:
        block = handle.read(1 << 16)
        if not block:
            return size
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)


@dataclass(frozen=True)
class Count:
    """What the first pass learns of a CSV byte range."""

    rows: int  # as `pipeport predict` numbers them: blank lines are not rows
    lines: int
    quoted: bool = False  # it ends inside a quoted field: merge it with the next range
    error: str = ""  # a line that cannot be read (not UTF-8, a csv error) ...
    error_line: int = 0  # ... and where, counted from the range's first line


def count_csv_piece(piece: Piece) -> Count:
    with _open_range(piece) as text:
        lines: Iterator[str] = iter(text)
        if not piece.last:
            lines = itertools.chain(lines, [_SENTINEL + "\n"])
        reader = csv.reader(lines)
        rows = 0
        record: list[str] = []
        try:
            for record in reader:
                if record:
                    rows += 1
        except (UnicodeDecodeError, csv.Error) as exc:
            return Count(rows, reader.line_num, error=str(exc), error_line=reader.line_num)
    if piece.last:
        return Count(rows, reader.line_num)
    if record != [_SENTINEL]:
        return Count(rows, reader.line_num, quoted=True)
    return Count(rows - 1, reader.line_num - 1)


def merge(piece: Piece, following: Piece) -> Piece:
    return replace(piece, end=following.end, last=following.last)


def number_pieces(pieces: list[Piece], counts: list[Count]) -> list[Piece]:
    """Give each counted piece its first row (through all files) and first line (in its file)."""
    numbered = []
    first_row = 0
    line = 0
    for number, (piece, count) in enumerate(zip(pieces, counts, strict=True)):
        if number == 0 or piece.path != pieces[number - 1].path:
            line = piece.first_line
        numbered.append(
            replace(piece, number=number, first_row=first_row, rows=count.rows, first_line=line)
        )
        first_row += count.rows
        line += count.lines
    return numbered


class _Range(io.RawIOBase):
    """The bytes [start, end) of a file, as a stream."""

    def __init__(self, handle: Any, length: int) -> None:
        self.handle = handle
        self.left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.left)
        data = self.handle.read(size) if size else b""
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


class _open_range:  # noqa: N801 - used as a context manager, like open()
    def __init__(self, piece: Piece) -> None:
        self.handle = open(piece.path, "rb")  # noqa: SIM115 - closed in __exit__
        self.handle.seek(piece.start)
        raw = io.BufferedReader(_Range(self.handle, piece.end - piece.start), 1 << 16)
        self.text = io.TextIOWrapper(raw, encoding="utf-8", newline="")

    def __enter__(self) -> io.TextIOWrapper:
        return self.text

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


# -- reading (on a worker) ------------------------------------------------------------------------


def piece_chunks(
    piece: Piece, schema: ModelSchema, chunk_size: int, keep: tuple[str, ...]
) -> Iterator[Chunk]:
    if piece.kind == "csv":
        return _csv_chunks(piece, schema, chunk_size, keep)
    return _parquet_chunks(piece, schema, chunk_size, keep)


def _csv_chunks(
    piece: Piece, schema: ModelSchema, chunk_size: int, keep: tuple[str, ...]
) -> Iterator[Chunk]:
    header = list(piece.header)
    plan = [(spec.name, header.index(spec.name), csv_cell_reader(spec)) for spec in schema.inputs]
    kept_at = [(name, header.index(name)) for name in keep]
    first = piece.first_row
    with _open_range(piece) as text:
        reader = csv.reader(text)
        while True:
            chunk, columns, broken = _csv_chunk(reader, piece, plan, kept_at, first, chunk_size)
            if chunk.size == 0 and not chunk.problems:
                return
            if not chunk.problems:
                try:
                    chunk.feeds = columns_to_feeds(columns, schema, first_row=first)
                except RawInputError as exc:
                    chunk.problems = _problems(exc, first)
            yield chunk
            if broken:
                return
            first += chunk.size


def _problems(exc: RawInputError, first_row: int) -> list[Problem]:
    return [
        (first_row if e.row is None else e.row, _where(e.row, e.field) + e.problem)
        for e in exc.errors
    ]


def _csv_chunk(
    reader: Any,
    piece: Piece,
    plan: list[Any],
    kept_at: list[tuple[str, int]],
    first: int,
    chunk_size: int,
) -> tuple[Chunk, dict[str, list[Any]], bool]:
    """Up to chunk_size records, each cell read as serving/batch.py reads it (_csv_row), and
    whether the text broke off (not UTF-8, a csv error)."""
    width = len(piece.header)
    columns: dict[str, list[Any]] = {name: [] for name, _position, _read in plan}
    kept: dict[str, Any] = {name: [] for name, _position in kept_at}
    chunk = Chunk(first, 0, None, kept)
    messages: list[str] = []
    index = first
    try:
        for record in reader:
            if not record:
                continue
            if len(record) != width:
                line = piece.first_line - 1 + reader.line_num
                chunk.problems.append(
                    (
                        index,
                        f"row {index} (line {line}): {len(record)} fields, the header has {width}",
                    )
                )
            else:
                _csv_row(record, plan, index, messages, columns)
                if messages:
                    chunk.problems.extend((index, message) for message in messages)
                    messages.clear()
                for name, position in kept_at:
                    kept[name].append(record[position])
            index += 1
            if index - first == chunk_size:
                break
    except (UnicodeDecodeError, csv.Error) as exc:
        line = piece.first_line - 1 + reader.line_num
        chunk.problems.append((index, f"{Path(piece.path).name} near line {line}: {exc}"))
        chunk.size = index - first
        return chunk, columns, True
    chunk.size = index - first
    return chunk, columns, False


def _parquet_chunks(
    piece: Piece, schema: ModelSchema, chunk_size: int, keep: tuple[str, ...]
) -> Iterator[Chunk]:
    parquet = pq.ParquetFile(piece.path)
    names = list(dict.fromkeys([*schema.input_names, *keep]))
    first = piece.first_row
    batches = parquet.iter_batches(
        batch_size=chunk_size, row_groups=list(piece.row_groups), columns=names
    )
    for batch in batches:
        kept = {name: batch.column(name) for name in keep}
        try:
            feeds = parquet_feeds(batch, schema, first)
            chunk = Chunk(first, batch.num_rows, feeds, kept)
        except RawInputError as exc:
            chunk = Chunk(first, batch.num_rows, None, kept, _problems(exc, first))
        yield chunk
        first += batch.num_rows
