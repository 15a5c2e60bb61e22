"""Helpers of the parity tests: bundled configs and registry estimators, trained and exported."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from pipeport.cli import main as pipeport

REPO = Path(__file__).resolve().parents[2]
BUNDLED = sorted((REPO / "configs").glob("*.toml"))


def train_and_export(config: Path, out: Path, rows: int = 2000) -> Path:
    assert pipeport(["train", str(config), "--out", str(out), "--quiet"]) == 0
    assert pipeport(["export", str(out), "--rows", str(rows)]) == 0
    return out


def registry_config(tmp: Path, estimator: str, task: str) -> Path:
    """A penguins config for one registry estimator (small, so the suite stays fast)."""
    target = "species" if task == "classification" else "body_mass_g"
    numeric = [
        c
        for c in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
        if c != target
    ]
    categorical = ["island", "sex"] + (["species"] if task == "regression" else [])
    params = {
        "random_forest": "n_estimators = 20",
        "extra_trees": "n_estimators = 20",
        "gradient_boosting": "n_estimators = 30",
        "hist_gradient_boosting": "max_iter = 30",
    }
    text = f"""
name = "reg-{estimator}-{task}"
[data]
path = "{(REPO / "data" / "penguins.csv").as_posix()}"
target = "{target}"
[features]
numeric = {numeric!r}
categorical = {categorical!r}
[model]
task = "{task}"
estimator = "{estimator}"
[model.params]
{params.get(estimator, "")}
[split]
seed = 7
""".replace("'", '"')
    path = tmp / f"{estimator}-{task}.toml"
    path.write_text(text)
    tomllib.loads(text)  # fail here, not in train, if the template is broken
    return path


def copy_artifacts(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
