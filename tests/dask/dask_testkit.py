"""Helpers of the Dask tests: input files that exercise the reading rules, the two engines run as
a user runs them, and the part files read back in the local engine's CSV form."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PIPEPORT = [sys.executable, "-c", "import sys; from pipeport.cli import main; sys.exit(main())"]
PENGUINS = REPO / "data" / "penguins.csv"


def env(**extra: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), environment.get("PYTHONPATH")])
    )
    environment.update(extra)
    return environment


def run_cli(*args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """`pipeport ARGS` in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [*PIPEPORT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(**extra_env),
        cwd=REPO,
    )


def on_local(
    model: Path, source: Path, output: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """The single-machine command, `pipeport predict MODEL --input SOURCE --output OUTPUT`."""
    return run_cli("predict", str(model), "--input", str(source), "--output", str(output), *extra)


def local(model: Path, source: Path, output: Path, *extra: str) -> str:
    """The single-machine command's output file, as bytes decoded (it must succeed)."""
    result = on_local(model, source, output, *extra)
    assert result.returncode == 0, result.stderr
    return output.read_bytes().decode("utf-8")


def on_dask(
    model: Path, source: Path | str, output: Path, *extra: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "predict",
        str(model),
        "--input",
        str(source),
        "--output",
        str(output),
        "--engine",
        "dask",
        "--workers",
        "2",
        *extra,
        timeout=timeout,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `pipeport predict: error: …` line of a failed run."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("pipeport predict:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def csv_parts(folder: Path) -> str:
    """The CSV part files' bytes as one file: the first part's header, then every part's rows,
    parts in the order of their first row (the rows inside a part are checked to be in order)."""
    parts = sorted(folder.glob("part-*.csv"))
    assert parts, f"no part files in {folder}"
    texts = [path.read_bytes().decode("utf-8") for path in parts]
    bodies = []
    for text in texts:
        header, _, body = text.partition("\r\n")
        rows = [int(row[0]) for row in csv.reader(io.StringIO(body, newline=""))]
        assert rows == sorted(rows)
        bodies.append((rows[0] if rows else -1, body))
    return header + "\r\n" + "".join(body for _first, body in sorted(bodies))


def parquet_parts_as_csv(folder: Path, drop: tuple[str, ...] = ()) -> str:
    """The Parquet part files written as the local engine writes its CSV (csv.writer, repr of
    floats, an empty field for null), rows sorted by `row`."""
    import pyarrow.parquet as pq

    tables = [pq.read_table(path) for path in sorted(folder.glob("part-*.parquet"))]
    assert tables, f"no part files in {folder}"
    names = [name for name in tables[0].column_names if name not in drop]
    rows: list[list[Any]] = []
    for table in tables:
        columns = [table.column(name).to_pylist() for name in names]
        rows.extend([_text(column[i]) for column in columns] for i in range(table.num_rows))
    rows.sort(key=lambda row: int(row[0]))
    return _csv_text([names, *rows])


def _text(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _csv_text(rows: list[list[Any]]) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "_pipeport.json").read_text())


def penguin_rows(count: int, seed: int = 0) -> list[dict[str, str]]:
    """Raw penguins rows (as CSV text) resampled with noise, every few rows something the
    reading rules must handle: pandas' missing markers, booleans, numbers written oddly, an
    unseen category, and a note column of quoted text with commas and line breaks."""
    with PENGUINS.open(newline="") as handle:
        source = list(csv.DictReader(handle))
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        row = dict(source[int(rng.integers(len(source)))])
        if row["bill_length_mm"] not in ("", "NA"):
            row["bill_length_mm"] = repr(round(float(row["bill_length_mm"]) + rng.normal(), 2))
        odd = i % 9
        if odd == 1:
            row["bill_depth_mm"] = "NA"
        elif odd == 2:
            row["sex"] = "null"
        elif odd == 3:
            row["island"] = "Atlantis"
        elif odd == 4:
            row["year"] = "2.008e3"
        elif odd == 5:
            row["body_mass_g"] = ""
            row["island"] = "N/A"
        elif odd == 6:
            row["year"] = "TRUE"  # pandas reads it as a boolean: 1.0 in a numeric column
        row["id"] = f"p{i:06d}"
        row["note"] = f'seen "{i}" times,\nonce at sea\r\nand ashore' if i % 3 == 0 else "plain"
        rows.append(row)
    return rows


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    bom: bool = False,
    crlf: bool = False,
    blank_every: int = 0,
) -> Path:
    fields = list(rows[0])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(fields)
    for i, row in enumerate(rows):
        writer.writerow([row[f] for f in fields])
        if blank_every and i % blank_every == blank_every - 1:
            buffer.write("\r\n" if crlf else "\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path
