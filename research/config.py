"""The training config (TOML), parsed and checked before any data is read.

Every mistake gets its own message naming the key and, where there is a fixed set, the valid
choices: a config is written by hand, and a typo must not train the wrong model silently.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pipeport.research.errors import ConfigError
from pipeport.research.estimators import (
    ESTIMATORS,
    TASKS,
    check_params,
    estimator_names,
    valid_params,
)
from pipeport.research.feature_steps import TARGET_TRANSFORMS, StepConfig, parse_steps

DATA_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class DataConfig:
    path: Path  # resolved against the config file's folder
    target: str
    sha256: str | None = None


@dataclass(frozen=True)
class FeaturesConfig:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    select_k_best: int | None = None
    #: With [[steps]]: the raw columns to read (default: all but the target and `exclude`).
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


@dataclass(frozen=True)
class ModelConfig:
    task: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    #: "log", "log1p" or "sqrt": fit on the transformed target, predict through the inverse
    target_transform: str | None = None


@dataclass(frozen=True)
class SplitConfig:
    test_fraction: float = 0.2
    seed: int = 0
    stratify: bool | None = None  # None: stratify classification when every class can be split


@dataclass(frozen=True)
class TrainConfig:
    name: str
    version: str
    data: DataConfig
    features: FeaturesConfig
    model: ModelConfig
    split: SplitConfig
    source: Path
    sha256: str  # of the config file's bytes
    raw: dict[str, Any]  # the parsed TOML, for the manifest
    #: The feature-engineering steps, in order ([[steps]]); empty: the [features] form.
    steps: tuple[StepConfig, ...] = ()

    def feature_columns(self, available: list[str]) -> list[str]:
        """The raw columns the pipeline reads, in the data file's order."""
        if not self.steps:
            return list(self.features.all)
        if self.features.include:
            return list(self.features.include)
        skip = {self.data.target, *self.features.exclude}
        return [c for c in available if c not in skip]


_SECTIONS = {
    "": {"name", "version", "data", "features", "model", "split", "steps"},
    "data": {"path", "target", "sha256"},
    "features": {"numeric", "categorical", "select_k_best", "include", "exclude"},
    "model": {"task", "estimator", "params", "target_transform"},
    "split": {"test_fraction", "seed", "stratify"},
}


def _check_keys(table: dict[str, Any], section: str) -> None:
    allowed = _SECTIONS[section]
    where = f"[{section}]" if section else "the top level"
    for key in table:
        if key not in allowed:
            hint = get_close_matches(key, allowed, n=1)
            did_you_mean = f" Did you mean '{hint[0]}'?" if hint else ""
            raise ConfigError(
                f"unknown key '{key}' in {where}.{did_you_mean} "
                f"Valid keys: {', '.join(sorted(allowed))}."
            )


def _table(raw: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            raise ConfigError(f"missing section [{key}]")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table ([{key}]), got {type(value).__name__}")
    return value


def _string(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if value is None:
        raise ConfigError(f"missing required key '{key}' in {where}")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{key}' in {where} must be a non-empty string, got {value!r}")
    return value


def _string_list(table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"'{key}' in [features] must be a list of column names (strings)")
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise ConfigError(f"column(s) listed twice in [features] {key}: {', '.join(dupes)}")
    return tuple(value)


def parse_config(raw: dict[str, Any], source: Path, sha256: str) -> TrainConfig:
    """Check a parsed TOML document and build the typed config."""
    _check_keys(raw, "")
    name = _string(raw, "name", "the top level")
    if name.startswith(".") or any(c in name for c in "/\\") or not name.isprintable():
        raise ConfigError(
            f"name {name!r} must not start with '.' or hold '/', '\\' or control characters: it "
            "names the artifacts folder (artifacts/<name>) and the model in /v2/models/<name>"
        )
    version = raw.get("version", "1")
    if not isinstance(version, (str, int)) or isinstance(version, bool):
        raise ConfigError(f"'version' must be a string or an integer, got {version!r}")

    data_t = _table(raw, "data")
    _check_keys(data_t, "data")
    data_path = _string(data_t, "path", "[data]")
    path = (source.parent / data_path).resolve()
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise ConfigError(
            f"[data] path '{data_path}' has an unsupported extension; use one of "
            f"{', '.join(sorted(DATA_SUFFIXES))}"
        )
    pin = data_t.get("sha256")
    if pin is not None:
        if (
            not isinstance(pin, str)
            or len(pin) != 64
            or any(c not in "0123456789abcdef" for c in pin.lower())
        ):
            raise ConfigError("[data] sha256 must be 64 hexadecimal characters")
        pin = pin.lower()
    data = DataConfig(path=path, target=_string(data_t, "target", "[data]"), sha256=pin)

    with_steps = "steps" in raw
    feat_t = _table(raw, "features", required=not with_steps)
    _check_keys(feat_t, "features")
    k = feat_t.get("select_k_best")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise ConfigError(f"[features] select_k_best must be a positive integer, got {k!r}")
    features = FeaturesConfig(
        numeric=_string_list(feat_t, "numeric"),
        categorical=_string_list(feat_t, "categorical"),
        select_k_best=k,
        include=_string_list(feat_t, "include"),
        exclude=_string_list(feat_t, "exclude"),
    )
    if with_steps:
        simple = [key for key in ("numeric", "categorical", "select_k_best") if key in feat_t]
        if simple:
            raise ConfigError(
                f"[features] {', '.join(simple)} belong to the simple form; with [[steps]] list "
                "the raw columns to read with [features] include (or exclude), and the "
                "preprocessing as steps"
            )
        if features.include and features.exclude:
            raise ConfigError("[features] give include or exclude, not both")
        if data.target in features.include:
            raise ConfigError(f"the target '{data.target}' is also listed in [features] include")
    else:
        if features.include or features.exclude:
            raise ConfigError(
                "[features] include/exclude go with [[steps]]; the simple form lists numeric "
                "and categorical columns"
            )
        if not features.all:
            raise ConfigError("[features] lists no columns: give numeric and/or categorical")
        both = sorted(set(features.numeric) & set(features.categorical))
        if both:
            raise ConfigError(f"column(s) both numeric and categorical: {', '.join(both)}")
        if data.target in features.all:
            raise ConfigError(f"the target '{data.target}' is also listed as a feature")

    model_t = _table(raw, "model")
    _check_keys(model_t, "model")
    task = _string(model_t, "task", "[model]")
    if task not in TASKS:
        raise ConfigError(f"[model] task '{task}' is not valid; choose one of: {', '.join(TASKS)}")
    estimator = _string(model_t, "estimator", "[model]")
    if estimator not in ESTIMATORS:
        raise ConfigError(
            f"unknown estimator '{estimator}'. Valid estimators: {', '.join(estimator_names())}"
        )
    cls = ESTIMATORS[estimator].cls_for(task)
    if cls is None:
        raise ConfigError(
            f"estimator '{estimator}' has no {task} variant. Valid {task} estimators: "
            f"{', '.join(estimator_names(task))}"
        )
    params = model_t.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("[model.params] must be a table")
    accepted = valid_params(cls)
    for p in params:
        if p not in accepted:
            hint = get_close_matches(p, accepted, n=1)
            did_you_mean = f" Did you mean '{hint[0]}'?" if hint else ""
            raise ConfigError(
                f"[model.params] '{p}' is not a parameter of {cls.__name__}.{did_you_mean} "
                f"Valid parameters: {', '.join(accepted)}"
            )
    problem = check_params(estimator, task, params)
    if problem is not None:
        raise ConfigError(f"[model.params] invalid value for {cls.__name__}: {problem}")
    target_transform = model_t.get("target_transform")
    if target_transform is not None:
        if task != "regression":
            raise ConfigError("[model] target_transform is for regression only")
        if target_transform not in TARGET_TRANSFORMS:
            raise ConfigError(
                f"[model] target_transform {target_transform!r} is not valid; choose one of: "
                f"{', '.join(TARGET_TRANSFORMS)}"
            )
    steps = parse_steps(raw["steps"], task) if with_steps else ()

    split_t = _table(raw, "split", required=False)
    _check_keys(split_t, "split")
    fraction = split_t.get("test_fraction", 0.2)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigError(
            f"[split] test_fraction must be a number between 0 and 1, got {fraction!r}"
        )
    seed = split_t.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"[split] seed must be a non-negative integer, got {seed!r}")
    stratify = split_t.get("stratify")
    if stratify is not None and not isinstance(stratify, bool):
        raise ConfigError(f"[split] stratify must be true or false, got {stratify!r}")

    return TrainConfig(
        name=name,
        version=str(version),
        data=data,
        features=features,
        model=ModelConfig(
            task=task,
            estimator=estimator,
            params=dict(params),
            target_transform=target_transform,
        ),
        split=SplitConfig(test_fraction=float(fraction), seed=seed, stratify=stratify),
        source=source,
        sha256=sha256,
        raw=raw,
        steps=steps,
    )


def load_config(path: str | Path) -> TrainConfig:
    """Read and check a training config file."""
    source = Path(path)
    try:
        blob = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {source}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory, not a file: {source}") from None
    try:
        raw = tomllib.loads(blob.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    return parse_config(raw, source.resolve(), hashlib.sha256(blob).hexdigest())
