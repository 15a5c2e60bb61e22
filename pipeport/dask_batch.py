"""`pipeport predict --engine dask`: score CSV or Parquet files on a Dask cluster.

The client plans pieces (pipeport/dask_inputs.py), sends the model's bytes to every worker once,
and submits one task per piece. A task reads its piece by the single-machine command's rules,
scores it with its worker's one session (pipeport/dask.py), and writes `part-NNNNN.parquet` (or
`.csv`) into the output directory through a temporary file renamed into place: a task re-run after
its worker died, or run twice, leaves one whole file with the same bytes. The `row` column is
each row's number in the input (through the files in path order); `--keep-columns` copies id
columns beside it. Bad rows are reported as `pipeport predict` reports them (row, column, what,
the first ones and a count), and then nothing is left in the output directory. `_pipeport.json`,
written last, says the output is complete.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import pipeport
from pipeport.dask_inputs import (
    Chunk,
    Count,
    Piece,
    Problem,
    count_csv_piece,
    find_inputs,
    merge,
    number_pieces,
    piece_chunks,
    plan_csv,
    plan_parquet,
)
from pipeport.dask_model import ModelFile, output_arrays, read_model, worker_model
from pipeport.schema import ModelSchema
from pipeport.serving.batch import MAX_REPORTED, BatchError, _Progress
from pipeport.serving.model import ModelLoadError
from pipeport.serving.outputs import OutputFormatter

MANIFEST = "_pipeport.json"
DEFAULT_PARTITION_ROWS = 100_000


@dataclass(frozen=True)
class Settings:
    """What every task needs besides its piece and the model."""

    output_dir: str
    output_format: str  # "parquet" or "csv"
    keep: tuple[str, ...]
    threads: int
    chunk_size: int
    digits: int  # width of the part number in file names


@dataclass
class PieceResult:
    number: int
    rows: int
    problems: list[Problem] = field(default_factory=list)  # the first MAX_REPORTED, by row
    problem_count: int = 0


def part_name(number: int, settings: Settings) -> str:
    return f"part-{number:0{settings.digits}d}.{settings.output_format}"


# -- on a worker ----------------------------------------------------------------------------------


def score_piece(piece: Piece, model: bytes, sha256: str, settings: Settings) -> PieceResult:
    """Read, score and write one piece; row problems are returned, not raised."""
    loaded, formatter = worker_model(model, sha256, settings.threads)
    result = PieceResult(piece.number, 0)
    with _PartWriter(piece, loaded.schema, formatter, settings) as writer:
        for chunk in piece_chunks(piece, loaded.schema, settings.chunk_size, settings.keep):
            if chunk.problems:
                room = MAX_REPORTED - len(result.problems)
                prefix = f"{piece.label}: " if piece.label else ""
                result.problems += [(row, prefix + text) for row, text in chunk.problems[:room]]
                result.problem_count += len(chunk.problems)
            elif not result.problem_count and chunk.feeds is not None:
                writer.write(chunk, loaded.run(formatter.onnx_names, chunk.feeds))
                result.rows += chunk.size
        if not result.problem_count:
            writer.commit()
    return result


class _PartWriter:
    """One part file, written to a temporary name and renamed into place by `commit`."""

    def __init__(
        self, piece: Piece, schema: ModelSchema, formatter: OutputFormatter, settings: Settings
    ) -> None:
        self.schema, self.formatter, self.settings = schema, formatter, settings
        folder = Path(settings.output_dir)
        self.final = folder / part_name(piece.number, settings)
        self.temporary = folder / f".{self.final.name}.{uuid.uuid4().hex}.tmp"
        self.keep_types = _kept_types(piece, settings.keep)
        self.handle: Any = None
        self.writer: Any = None

    def __enter__(self) -> _PartWriter:
        names = ["row", *self.settings.keep, *self.formatter.csv_header()]
        if self.settings.output_format == "csv":
            self.handle = self.temporary.open("w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(names)
        else:
            self.writer = pq.ParquetWriter(self.temporary, self._arrow_schema(names))
        return self

    def _arrow_schema(self, names: list[str]) -> pa.Schema:
        label = pa.int64() if self.schema.label_is_int else pa.string()
        types = [pa.int64(), *self.keep_types]
        types += [label if name == "label" else pa.float64() for name in names[len(types) :]]
        return pa.schema(list(zip(names, types, strict=True)))

    def write(self, chunk: Chunk, outputs: list[np.ndarray]) -> None:
        rows = range(chunk.first_row, chunk.first_row + chunk.size)
        kept = [chunk.kept[name] for name in self.settings.keep]
        if self.settings.output_format == "csv":
            texts = [_texts(values) for values in kept]
            predictions = self.formatter.csv_rows(outputs)
            self.writer.writerows(
                [row, *(column[i] for column in texts), *values]
                for i, (row, values) in enumerate(zip(rows, predictions, strict=True))
            )
            return
        columns = output_arrays(self.schema, self.formatter, [outputs])
        arrays = [pa.array(np.arange(rows.start, rows.stop, dtype=np.int64))]
        arrays += [_arrow(values, t) for values, t in zip(kept, self.keep_types, strict=True)]
        for name, values in columns.items():
            if name == "label":
                arrays.append(pa.array(values, type=self.writer.schema.field(name).type))
            else:
                arrays.append(pa.array(values, mask=np.isnan(values)))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.writer.schema))

    def commit(self) -> None:
        self._close()
        os.replace(self.temporary, self.final)

    def _close(self) -> None:
        if self.handle is not None:  # CSV
            self.handle.close()
        elif self.writer is not None:  # Parquet
            self.writer.close()
        self.handle = self.writer = None

    def __exit__(self, *exc: object) -> None:
        self._close()
        self.temporary.unlink(missing_ok=True)


def _kept_types(piece: Piece, keep: tuple[str, ...]) -> list[pa.DataType]:
    if piece.kind == "csv":
        return [pa.string()] * len(keep)
    schema = pq.read_schema(piece.path)
    return [schema.field(name).type for name in keep]


def _arrow(values: Any, kind: pa.DataType) -> pa.Array:
    if isinstance(values, list):
        return pa.array(values, type=kind)
    return values if values.type == kind else values.cast(kind)


def _texts(values: Any) -> list[str]:
    """Kept values as CSV text: CSV cells as read; Parquet values as str(), null as empty."""
    if isinstance(values, list):
        return values
    return ["" if v is None else str(v) for v in values.to_pylist()]


# -- on the client --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """`pipeport predict --engine dask` (called by pipeport.serving.cli)."""
    # fails here, before any work, when the dask extra is missing (the CLI names the extra)
    import distributed  # noqa: F401

    from pipeport.cli import CLIError

    if args.scheduler and (args.workers or args.memory_limit):
        option = "--workers" if args.workers else "--memory-limit"
        raise CLIError(f"{option} sizes the LocalCluster; with --scheduler the cluster is yours")
    args.output_format = args.output_format or "parquet"
    args.partition_rows = args.partition_rows or DEFAULT_PARTITION_ROWS
    names = (args.keep_columns or "").split(",")
    keep = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    try:
        model = read_model(args.model)
        files = find_inputs(args.input)
        output = _prepare_output(Path(args.output))
    except (ModelLoadError, BatchError) as exc:
        raise CLIError(str(exc)) from None
    done = False
    try:
        rows, parts = _run(args, model, files, output, keep)
        done = True
    except BatchError as exc:
        raise CLIError(str(exc)) from None
    finally:
        if not done:
            _remove_parts(output)
    print(
        f"pipeport predict: wrote {rows} predictions to {output}/ ({parts} part files)",
        file=sys.stderr,
    )
    return 0


def _run(
    args: argparse.Namespace,
    model: ModelFile,
    files: list[Path],
    output: Path,
    keep: tuple[str, ...],
) -> tuple[int, int]:
    schema = model.schema
    clash = [name for name in keep if name in ("row", *OutputFormatter(schema).csv_header())]
    if clash:
        raise BatchError(f"--keep-columns {clash} would clash with output columns of that name")
    kind = "csv" if files[0].suffix.lower() == ".csv" else "parquet"
    plan = plan_csv if kind == "csv" else plan_parquet
    pieces = plan(files, schema, keep, args.ignore_unknown_columns, args.partition_rows)
    with _client(args) as client:
        if kind == "csv":
            pieces = _count_csv(client, pieces)
        settings = Settings(
            output_dir=str(output.resolve()),
            output_format=args.output_format,
            keep=keep,
            threads=args.threads or 1,
            chunk_size=min(args.chunk_size, args.partition_rows),
            digits=max(5, len(str(len(pieces) - 1))),
        )
        results = _score(client, pieces, model, settings, args.progress)
    problems = sorted(p for result in results for p in result.problems)
    count = sum(result.problem_count for result in results)
    if count:
        shown = [text for _row, text in problems[:MAX_REPORTED]]
        more = count - len(shown)
        raise BatchError("; ".join(shown) + (f"; and {more} more" if more > 0 else ""))
    rows = sum(result.rows for result in results)
    _write_manifest(output, model, files, pieces, settings, rows)
    return rows, len(pieces)


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="30s")
        except OSError as exc:
            raise BatchError(
                f"cannot reach the Dask scheduler at {args.scheduler}: {exc}"
            ) from None
        with client:
            _check_workers(client, args.scheduler)
            yield client
        return
    workers = args.workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=args.memory_limit or "auto",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _check_workers(client: Any, address: str) -> None:
    """Every worker must run this pipeport (the tasks are its functions)."""
    try:
        client.wait_for_workers(1, timeout=60)
    except TimeoutError:
        raise BatchError(f"no worker is connected to the Dask scheduler at {address}") from None

    def version() -> str:
        import pipeport

        return pipeport.__version__

    try:
        versions = client.run(version)
    except ModuleNotFoundError as exc:
        raise BatchError(
            f"a worker of {address} cannot import {exc.name}: install pipeport[dask] on every "
            "worker machine"
        ) from None
    odd = {worker: v for worker, v in versions.items() if v != pipeport.__version__}
    if odd:
        raise BatchError(
            f"workers run another pipeport than this one ({pipeport.__version__}): {odd}"
        )


def _count_csv(client: Any, pieces: list[Piece]) -> list[Piece]:
    """Count each byte range's rows on the cluster; merge a range that ends inside a quoted
    field with the next one (then count the merged range again), in file order."""
    counts: list[Count] = client.gather(client.map(count_csv_piece, pieces, pure=False))
    kept: list[Piece] = []
    kept_counts: list[Count] = []
    i = 0
    while i < len(pieces):
        piece, count = pieces[i], counts[i]
        while count.quoted and not piece.last:
            i += 1
            piece = merge(piece, pieces[i])
            count = client.submit(count_csv_piece, piece, pure=False).result()
        kept.append(piece)
        kept_counts.append(count)
        i += 1
    numbered = number_pieces(kept, kept_counts)
    for piece, count in zip(numbered, kept_counts, strict=True):
        if count.error:
            line = piece.first_line - 1 + max(count.error_line, 1)
            raise BatchError(f"{Path(piece.path).name} near line {line}: {count.error}")
    return numbered


def _score(
    client: Any, pieces: list[Piece], model: ModelFile, settings: Settings, progress: str
) -> list[PieceResult]:
    from distributed import as_completed

    if not pieces:
        return []
    shipped = client.scatter(model.data, broadcast=True, hash=True)
    futures = client.map(
        score_piece,
        pieces,
        model=shipped,
        sha256=model.sha256,
        settings=settings,
        key=[f"pipeport-predict-{uuid.uuid4().hex}-{p.number}" for p in pieces],
    )
    total = max(sum(p.rows for p in pieces), 1)
    bar = _Progress(sys.stderr, progress)
    results = []
    done = 0
    try:
        for future in as_completed(futures):
            try:
                result: PieceResult = future.result()
            except Exception as exc:
                client.cancel(futures)
                raise BatchError(_task_failure(exc)) from None
            results.append(result)
            done += pieces[result.number].rows
            bar.update(done / total, done)
    finally:
        bar.close()
    return results


def _task_failure(exc: BaseException) -> str:
    if type(exc).__name__ == "KilledWorker":  # the scheduler gave up on a task
        return (
            "a worker died while scoring a partition, more often than the scheduler allows "
            "(killed, or over its memory limit: see --memory-limit, --partition-rows and "
            f"--chunk-size): {exc}"
        )
    if isinstance(exc, ModuleNotFoundError):
        return f"a worker cannot import {exc.name}: install pipeport[dask] on every worker machine"
    if isinstance(exc, OSError):
        return f"cannot write the output: {exc.strerror or exc} ({exc.filename or ''})"
    return f"a partition failed: {type(exc).__name__}: {exc}"


def _prepare_output(output: Path) -> Path:
    if output.exists() and not output.is_dir():
        raise BatchError(f"--output {output} is a file; --engine dask writes a directory")
    if output.is_dir() and any(output.iterdir()):
        raise BatchError(f"--output {output} is not empty: remove it or name a new directory")
    output.mkdir(parents=True, exist_ok=True)
    return output


def _remove_parts(output: Path) -> None:
    """Leave nothing behind after a failed run (no half-complete output)."""
    for path in output.glob("*part-*"):
        path.unlink(missing_ok=True)
    (output / MANIFEST).unlink(missing_ok=True)


def _write_manifest(
    output: Path,
    model: ModelFile,
    files: list[Path],
    pieces: list[Piece],
    settings: Settings,
    rows: int,
) -> None:
    for stray in output.glob(".part-*.tmp"):  # left by a worker killed while writing
        stray.unlink(missing_ok=True)
    schema = model.schema
    manifest = {
        "model": {"name": schema.name, "version": schema.version, "sha256": model.sha256},
        "inputs": [str(path) for path in files],
        "rows": rows,
        "format": settings.output_format,
        "columns": ["row", *settings.keep, *OutputFormatter(schema).csv_header()],
        "parts": [
            {"file": part_name(p.number, settings), "first_row": p.first_row, "rows": p.rows}
            for p in pieces
        ],
        "pipeport": pipeport.__version__,
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
