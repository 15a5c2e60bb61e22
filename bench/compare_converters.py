"""pipeport against the alternatives, on the same pipelines and the same raw rows.

    python bench/compare_converters.py [--cases id,id,...] [--rows 10000]
        [--json bench/results/compare_converters.json]

The pipelines: every support case (pipeport/export/support_cases*.py, the rows of
docs/support.md) and the users' pipelines of tests/export/test_export_user_pipelines.py (its
PIPELINES, loaded from the file; nothing is moved). `--cases` takes ids of either kind.

The rows, the same for every tool: the gate's own. pipeport.to_onnx builds the graph and its
contract; every raw sample row plus `--rows` raw rows from `generate_raw_rows` (missing values,
unseen categories, far-out numbers, each where the pipeline accepts it; seed 0, as the gate),
less the rows scikit-learn itself raises on (found by the gate's search, which only chooses
rows). No row is left out because a tool's contract refuses it: that counts against the tool
(below). Where pipeport refuses a pipeline at its gate (ParityError), the contract of the graph
it refused still gives the generated rows; where it cannot convert it at all there is no
contract to generate from, and the rows are the sample alone.

The reference is scikit-learn's own predict / predict_proba on the raw DataFrame (or its array,
for a pipeline fitted on one), called here; the outputs compared are the label and, when the
pipeline has predict_proba, the probabilities (classification), or the prediction (regression).

The tools:

- **pipeport**: `pipeport.to_onnx` (gate on), run in onnxruntime (one thread) on feeds from
  `pipeport.frame_to_feeds`, as its server feeds a request. A row its contract refuses
  (RawInputError) is a row it cannot take.
- **skl2onnx**, as its documentation shows a user: `skl2onnx.to_onnx(pipeline, X=..., options=
  {id(classifier): {"zipmap": False}}, target_opset=TARGET_OPSET)`, each raw column its own
  [N, 1] input, in four variants, the best of which is reported (all are in the JSON):
  `guessed` (types guessed by skl2onnx from the DataFrame: float64 -> double, int64 -> int64,
  bool -> bool, text -> string), `double` and `float32` (every int, float and bool column
  declared that type, the rest string) and `titanic-example` (the schema of skl2onnx's Titanic
  example: float64 -> float, int64 -> int64, anything else -> string). Best: exact (the first
  tried), else wrong on the fewest rows, else crashes, else refused (then the message of
  `guessed`, what a user sees first). A classifier whose converter has no zipmap option
  (LinearSVC) is converted again without options, as a user would retry. A pipeline fitted on a
  numpy array gets one [N, k] input. Fed as declared: numbers cast to the input's type (NaN
  kept); text as `str(value)`, a missing value as "nan" (numpy's and pandas' spelling, which is
  also how skl2onnx's encoders spell a learned NaN category: a user who writes
  `df[col].astype(str)` gets exactly that). A missing value (or a fraction) in a column declared
  int64 or bool cannot be written into that tensor: such a row is a row it cannot take. If
  onnxmltools is importable, its LightGBM and XGBoost converters are registered with skl2onnx as
  skl2onnx's gallery shows (`update_registered_converter`); it is no dependency of pipeport
  (`pip install --target DIR onnxmltools==1.16.0 --no-deps`, then `PYTHONPATH=DIR`).

Outcomes, per tool and pipeline, judged here (the gate's documented tolerances, docs/support.md,
computed by this file, never by pipeport's own `compare`): `exact` (on every row: the same
class, compared as values or as text, so that 1 and 1.0, or True and "True", are one class;
probabilities within 1e-6 absolute; regression within 1e-6 relative to max(|value|, 1e-6 x the
90th percentile of the |values|); NaN where scikit-learn answers NaN), `wrong` (converts, some
row outside: how many, how many of them hold a missing value or are sample rows, how many it
cannot take, max abs / rel error over the rows it was fed; an output scikit-learn gives that the
graph lacks puts every row outside), `refused` (conversion raises: its first line; for pipeport
a ParityError is a refusal too, that is what the gate is for), `crashes` (converts but
onnxruntime cannot load or run it).

JPMML (sklearn2pmml -> PMML -> jpmml_evaluator) is not measured. Java 17 is on the machine and
sklearn2pmml 0.133.1 (the newest on PyPI) installs in seconds (`pip install --target`, never
into the project's environment), but its converter refuses every estimator fitted with
scikit-learn 1.9.1, the version pipeport pins, a bare LogisticRegression included:
"SkLearnException: Scikit-Learn version '1.9.1' is not supported ... downgrade Scikit-Learn to
version '1.9.0'" (checked on SimpleImputer + LogisticRegression and on LogisticRegression
alone). Refitting under another scikit-learn would compare other pipelines, so the column is
left out rather than filled with refusals that say nothing about the converter.

Never run by the test suite (tests/bench/test_compare_converters.py runs two cases on a few
rows, and the controls: a graph with one learned value changed is `wrong`, a pipeline a tool
cannot convert is `refused`). Progress on stderr; a Markdown report on stdout; every figure in
the JSON (written after each pipeline, so a run cut short keeps what it measured).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

USER_PIPELINES = ROOT / "tests" / "export" / "test_export_user_pipelines.py"
USERS = "Users' pipelines"
TARGET_OPSET = {"": 21, "ai.onnx.ml": 3}
TOOLS = ("pipeport", "skl2onnx")
OUTCOMES = ("exact", "wrong", "refused", "crashes")
VERSIONS = (
    "pipeport",
    "scikit-learn",
    "skl2onnx",
    "onnxmltools",
    "onnxruntime",
    "onnx",
    "lightgbm",
    "xgboost",
    "feature-engine",
    "pandas",
    "numpy",
)
CHUNK = 2_000


@dataclass
class Subject:
    """One pipeline to measure: how to fit it and the raw rows it was trained on."""

    id: str
    family: str
    fit: Any  # () -> (fitted pipeline, raw sample)


@dataclass
class Outcome:
    outcome: str  # one of OUTCOMES
    variant: str = ""
    reason: str = ""
    rows: int = 0
    rows_outside: int = 0
    outside_with_missing: int = 0
    outside_in_sample: int = 0
    rows_it_cannot_take: int = 0
    label_mismatches: int = 0  # classification: rows whose class differs (fed rows)
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- the pipelines --------------------------------------------------------------------------------


def subjects(wanted: set[str] | None) -> list[Subject]:
    from pipeport.export.support_cases import sections

    out = []
    for family, members in sections():
        for case in members:
            if wanted is None or case.id in wanted:
                out.append(Subject(case.id, family, lambda c=case: (c.fit(), c.features())))
    spec = importlib.util.spec_from_file_location("user_pipelines", USER_PIPELINES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, build in module.PIPELINES.items():
        if wanted is None or name in wanted:
            out.append(Subject(name, USERS, lambda b=build: _fit_user(b)))
    if wanted is not None and {s.id for s in out} != wanted:
        raise SystemExit(f"unknown case id(s): {', '.join(sorted(wanted - {s.id for s in out}))}")
    return out


def _fit_user(build: Any) -> tuple[Any, Any]:
    pipeline, X, y = build()
    return pipeline.fit(X, y), X


# -- the rows and the reference -------------------------------------------------------------------


@dataclass
class Rows:
    frame: Any  # the raw rows, a DataFrame with the pipeline's raw columns
    by_name: bool
    task: str
    keys: tuple[str, ...]
    expected: dict[str, Any]
    in_sample: Any  # bool per row
    with_missing: Any  # bool per row
    generated: bool  # False: the sample alone (pipeport refused, no contract to generate from)


def evaluation_rows(pipeline: Any, sample: Any, schema: Any, n: int) -> Rows:
    """The gate's rows (see the module docstring), less those scikit-learn raises on, and
    scikit-learn's own outputs on them. Which rows: every raw sample row and the generated ones;
    no row is left out because a tool's contract refuses it (that is the tool's problem)."""
    import numpy as np

    from pipeport.export.parity import generate_raw_rows
    from pipeport.export.probe import refused_by_sklearn
    from pipeport.export.raw_inputs import as_raw_frame, concat_like
    from pipeport.export.structure import final_estimator

    raw, names, by_name = as_raw_frame(pipeline, sample)
    task = "classification" if hasattr(final_estimator(pipeline), "classes_") else "regression"
    keys: tuple[str, ...] = ("prediction",)
    if task == "classification":
        keys = ("label", "probabilities") if hasattr(pipeline, "predict_proba") else ("label",)
    if schema is not None:
        sample_rows = raw.reset_index(drop=True)
        frame = concat_like([sample_rows, generate_raw_rows(raw, schema, n, 0)], raw)
        in_sample = np.arange(len(frame)) < len(sample_rows)
    else:
        frame, in_sample = raw.reset_index(drop=True), np.ones(len(raw), dtype=bool)
    kept: list[Any] = []
    flags: list[Any] = []
    expected: dict[str, list[Any]] = {}
    for start in range(0, len(frame), CHUNK):
        part = frame.iloc[start : start + CHUNK].reset_index(drop=True)
        flag = in_sample[start : start + CHUNK]
        # which rows scikit-learn raises on (the gate's search: it only chooses the rows)
        bad = {i for i, _ in refused_by_sklearn(pipeline, part, task, by_name)}
        if bad:
            keep = [i for i in range(len(part)) if i not in bad]
            part, flag = part.iloc[keep].reset_index(drop=True), flag[keep]
        if not len(part):
            continue
        for key, value in sklearn_reference(pipeline, part, by_name, keys).items():
            expected.setdefault(key, []).append(value)
        kept.append(part)
        flags.append(flag)
    if not kept:
        raise ValueError("scikit-learn refuses every row")
    frame = concat_like(kept, raw) if len(kept) > 1 else kept[0]
    with_missing = frame[names].isna().any(axis=1).to_numpy()
    outputs = {k: np.concatenate(v) for k, v in expected.items()}
    return Rows(
        frame=frame[names],
        by_name=by_name,
        task=task,
        keys=keys,
        expected=outputs,
        in_sample=np.concatenate(flags),
        with_missing=with_missing,
        generated=schema is not None,
    )


def sklearn_reference(
    pipeline: Any, frame: Any, by_name: bool, keys: tuple[str, ...]
) -> dict[str, Any]:
    """scikit-learn's own predict / predict_proba on the raw rows (the DataFrame, or its array
    for a pipeline fitted on an array): the reference every tool is judged against."""
    import numpy as np

    X = frame if by_name else frame.to_numpy()
    if keys == ("prediction",):
        return {"prediction": np.asarray(pipeline.predict(X), np.float64).reshape(-1)}
    out = {"label": np.asarray(pipeline.predict(X)).reshape(-1)}
    if "probabilities" in keys:
        out["probabilities"] = np.asarray(pipeline.predict_proba(X), np.float64)
    return out


# -- the judge: the gate's documented tolerances, computed here (never by pipeport's code) --------

PROBA_ATOL = 1e-6
REGRESSION_RTOL = 1e-6


def labels_equal(expected: Any, actual: Any) -> Any:
    """Per row: the same class. Equal as values (1 and 1.0, True and 1) or as text (True and
    "True": a graph whose label tensor is a string for boolean classes): the representation is
    not judged, only which class it is; the same rule for every tool."""
    import numpy as np

    exp, act = np.asarray(expected).tolist(), np.asarray(actual).tolist()
    return np.array([_same_label(e, a) for e, a in zip(exp, act, strict=True)], dtype=bool)


def _same_label(expected: Any, actual: Any) -> bool:
    import numpy as np

    expected = expected.item() if isinstance(expected, np.generic) else expected
    actual = actual.item() if isinstance(actual, np.generic) else actual
    if isinstance(actual, bytes):
        actual = actual.decode()
    try:
        if bool(expected == actual):
            return True
    except (TypeError, ValueError):
        pass
    return str(expected) == str(actual)


def row_errors(rows: Rows, actual: dict[str, Any]) -> tuple[Any, Any, float, float, str]:
    """(outside per row, error per row, max abs error, max rel error, why every row is out)."""
    import numpy as np

    n = len(rows.frame)
    everything = np.ones(n, dtype=bool)
    if rows.task == "classification":
        label = np.asarray(actual.get("label", []))
        if label.shape != (n,):
            return everything, np.full(n, np.inf), math.inf, 0.0, f"label shape {label.shape}"
        outside = ~labels_equal(rows.expected["label"], label)
        err = np.zeros(n)
        if "probabilities" in rows.expected:
            want = rows.expected["probabilities"]
            if "probabilities" not in actual:
                return everything, np.full(n, np.inf), math.inf, 0.0, "no probabilities output"
            got = np.asarray(actual["probabilities"], np.float64)
            if got.shape != want.shape:
                why = f"probabilities shape {got.shape}, scikit-learn's {want.shape}"
                return everything, np.full(n, np.inf), math.inf, 0.0, why
            diff = np.abs(want - got)
            err = np.where(np.isnan(diff), np.inf, diff).max(axis=1, initial=0.0)
            outside |= err > PROBA_ATOL
        return outside, err, float(err.max(initial=0.0)), 0.0, ""
    want = np.asarray(rows.expected["prediction"], np.float64).reshape(-1)
    got = np.asarray(actual.get("prediction", []), np.float64).reshape(-1)
    if got.shape != want.shape:
        return everything, np.full(n, np.inf), math.inf, math.inf, f"prediction shape {got.shape}"
    with np.errstate(invalid="ignore"):
        diff = np.abs(want - got)
    # the same infinity on both sides, or NaN on both, agrees; any other non-finite difference
    # is the largest error there is
    same = (want == got) | (np.isnan(want) & np.isnan(got))
    diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
    # relative to max(|value|, 1e-6 x the 90th percentile of the |values|): docs/support.md
    finite = np.abs(want[np.isfinite(want)])
    scale = float(np.percentile(finite, 90)) if finite.size else 0.0
    floor = max(1e-6 * scale, np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore"):
        # fmax: a NaN from scikit-learn answered with a number is the largest error (inf), not NaN
        rel = np.where(diff == 0, 0.0, diff / np.fmax(np.abs(want), floor))
    return (
        rel > REGRESSION_RTOL,
        rel,
        float(diff.max(initial=0.0)),
        float(rel.max(initial=0.0)),
        "",
    )


def judge(rows: Rows, actual: dict[str, Any], variant: str, cannot: Any = None) -> Outcome:
    """exact or wrong, against scikit-learn's outputs, on every row. `actual` holds an answer
    for every row (anything in the rows of `cannot`); the rows in `cannot` (the tool could not
    be fed them) count as outside, apart, and the errors reported are those of the others."""
    import numpy as np

    n = len(rows.frame)
    cannot = np.zeros(n, dtype=bool) if cannot is None else np.asarray(cannot, dtype=bool)
    fed = ~cannot
    if not fed.any():
        out, max_abs, max_rel, why = cannot.copy(), 0.0, 0.0, "it cannot take any row"
    elif not cannot.any():
        out, _, max_abs, max_rel, why = row_errors(rows, actual)
    else:  # the errors of the rows it was fed
        part = Rows(
            frame=rows.frame[fed],
            by_name=rows.by_name,
            task=rows.task,
            keys=rows.keys,
            expected={k: np.asarray(v)[fed] for k, v in rows.expected.items()},
            in_sample=rows.in_sample[fed],
            with_missing=rows.with_missing[fed],
            generated=rows.generated,
        )
        fed_out, _, max_abs, max_rel, why = row_errors(
            part, {k: np.asarray(v)[fed] for k, v in actual.items()}
        )
        out = cannot.copy()
        out[np.flatnonzero(fed)] = fed_out
    outside = out | cannot
    labels = 0
    if rows.task == "classification" and fed.any() and "label" in actual:
        got = np.asarray(actual["label"])
        if got.shape == (n,):
            labels = int((~labels_equal(rows.expected["label"][fed], got[fed])).sum())
    return Outcome(
        outcome="exact" if not outside.any() else "wrong",
        variant=variant,
        reason=why,
        rows=n,
        rows_outside=int(outside.sum()),
        outside_with_missing=int((outside & rows.with_missing).sum()),
        outside_in_sample=int((outside & rows.in_sample).sum()),
        rows_it_cannot_take=int(cannot.sum()),
        label_mismatches=labels,
        max_abs_error=max_abs,
        max_rel_error=max_rel,
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:240] if text else ''}"


def session(model: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


# -- pipeport -------------------------------------------------------------------------------------


def pipeport_convert(pipeline: Any, sample: Any, name: str, n: int) -> tuple[Any, Any, str]:
    """(graph or None, schema for the rows or None, refusal)."""
    import pipeport
    from pipeport.schema import ModelSchema

    try:
        model = pipeport.to_onnx(pipeline, sample, name, generated_rows=n)
        return model, ModelSchema.from_metadata(pipeport.read_metadata(model)), ""
    except pipeport.ParityError as exc:  # refused by the gate; its contract still gives rows
        try:
            forced = pipeport.to_onnx(pipeline, sample, name, generated_rows=0, force=True)
            schema = ModelSchema.from_metadata(pipeport.read_metadata(forced))
        except Exception:
            schema = None
        return None, schema, first_line(exc)
    except Exception as exc:
        return None, None, first_line(exc)


def pipeport_run(model: Any, schema: Any, rows: Rows) -> Outcome:
    """The graph on every row, fed by `pipeport.frame_to_feeds` (as the server feeds a request).
    A row its contract refuses (RawInputError) is a row it cannot take: outside, apart."""
    import numpy as np

    from pipeport.contract import frame_to_feeds
    from pipeport.errors import RawInputError

    n = len(rows.frame)
    cannot = np.zeros(n, dtype=bool)
    try:
        sess = session(model)
        keys = schema.output_keys()
        names = [schema.outputs[k] for k in keys]
        parts: dict[str, list[Any]] = {k: [] for k in keys}
        for start in range(0, n, CHUNK):
            part = rows.frame.iloc[start : start + CHUNK].reset_index(drop=True)
            taken = np.ones(len(part), dtype=bool)
            try:
                feeds = frame_to_feeds(part, schema)
            except RawInputError as exc:
                bad = {e.row for e in exc.errors}
                if None in bad:  # a whole column refused: no row of this part can be fed
                    taken[:] = False
                else:
                    taken[sorted(int(r) for r in bad if r is not None)] = False
                if not taken.any():
                    cannot[start : start + len(part)] = True
                    continue
                feeds = frame_to_feeds(part[taken].reset_index(drop=True), schema)
            cannot[start : start + len(part)] = ~taken
            for key, value in zip(keys, sess.run(names, feeds), strict=True):
                parts[key].append(np.asarray(value))
    except Exception as exc:
        return Outcome("crashes", reason=first_line(exc))
    actual = {k: _spread(v, ~cannot) for k, v in parts.items() if v}
    return judge(rows, actual, "", cannot)


def _spread(values: list[Any], fed: Any) -> Any:
    """The outputs of the rows fed, at their places among all the rows (NaN / None elsewhere)."""
    import numpy as np

    value = np.concatenate(values)
    if value.dtype.kind in "fc":
        out = np.full((len(fed), *value.shape[1:]), np.nan)
    else:
        out = np.full((len(fed), *value.shape[1:]), None, dtype=object)
    out[fed] = value
    return out


# -- skl2onnx -------------------------------------------------------------------------------------


def register_boosting_converters() -> str:
    """onnxmltools' LightGBM and XGBoost converters, registered as skl2onnx's gallery shows.
    Returns onnxmltools' version, or "" when it is not installed."""
    try:
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    except ImportError:
        return ""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from xgboost import XGBClassifier, XGBRegressor

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    for cls, alias, convert in [
        (LGBMClassifier, "LightGbmLGBMClassifier", convert_lightgbm),
        (XGBClassifier, "XGBoostXGBClassifier", convert_xgboost),
    ]:
        update_registered_converter(
            cls,
            alias,
            calculate_linear_classifier_output_shapes,
            convert,
            options=classifier_options,
        )
    for cls, alias, convert in [
        (LGBMRegressor, "LightGbmLGBMRegressor", convert_lightgbm),
        (XGBRegressor, "XGBoostXGBRegressor", convert_xgboost),
    ]:
        update_registered_converter(cls, alias, calculate_linear_regressor_output_shapes, convert)
    return metadata.version("onnxmltools")


def _last_step(pipeline: Any) -> Any:
    while hasattr(pipeline, "steps"):
        pipeline = pipeline.steps[-1][1]
    return pipeline


#: skl2onnx's input-type variants, in the order tried (the first exact one is reported).
VARIANTS = ("guessed", "double", "float32", "titanic-example")


def _declared(frame: Any, variant: str) -> list[tuple[str, Any]]:
    """The initial types a user writes for `variant` (not `guessed`: skl2onnx guesses those).
    double / float32: every int, float and bool column as that type, the rest string;
    titanic-example: skl2onnx's example schema (float64 -> float, int64 -> int64, else string)."""
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    number = DoubleTensorType if variant == "double" else FloatTensorType
    out = []
    for name in frame.columns:
        kind = getattr(frame[name].dtype, "kind", "O")
        if variant == "titanic-example" and kind in "iu":
            out.append((name, Int64TensorType([None, 1])))
        elif kind in ("f" if variant == "titanic-example" else "iufb"):
            out.append((name, number([None, 1])))
        else:
            out.append((name, StringTensorType([None, 1])))
    return out


def skl2onnx_convert(pipeline: Any, rows: Rows, sample: Any, variant: str) -> Any:
    """The conversion a user writes; without the zipmap option where the classifier's converter
    has none (LinearSVC, say), as a user would retry."""
    try:
        return _skl2onnx_convert(pipeline, rows, sample, variant, zipmap_option=True)
    except NameError as exc:
        if "zipmap" not in str(exc):
            raise
        return _skl2onnx_convert(pipeline, rows, sample, variant, zipmap_option=False)


def _skl2onnx_convert(
    pipeline: Any, rows: Rows, sample: Any, variant: str, zipmap_option: bool
) -> Any:
    import numpy as np
    import skl2onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    kwargs: dict[str, Any] = {"target_opset": TARGET_OPSET}
    if rows.task == "classification" and zipmap_option:
        kwargs["options"] = {id(_last_step(pipeline)): {"zipmap": False}}
    if not rows.by_name:  # fitted on an array: one [N, k] input, as the docs' first example
        width = rows.frame.shape[1]
        if variant == "guessed":
            return skl2onnx.to_onnx(pipeline, X=np.asarray(sample, np.float64)[:5], **kwargs)
        tensor = DoubleTensorType if variant == "double" else FloatTensorType
        return skl2onnx.to_onnx(pipeline, initial_types=[("X", tensor([None, width]))], **kwargs)
    head = sample[rows.frame.columns].head(5)
    if variant == "guessed":
        return skl2onnx.to_onnx(pipeline, X=head, **kwargs)
    return skl2onnx.to_onnx(pipeline, initial_types=_declared(head, variant), **kwargs)


def _missing(value: Any) -> bool:
    """None, NaN, pandas.NA or NaT: a missing raw value (pandas' own test, per value)."""
    import pandas as pd

    if value is None:
        return True
    if isinstance(value, str | bytes):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    """A raw value as a user's `astype(str)` of their own column spells it: "nan" when missing;
    a whole number that the rows hold as a float (an int column once a missing value or an
    unseen value joined it) as the integer it is, as in the column the pipeline was fitted on."""
    if _missing(value):
        return "nan"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _not_an_integer(value: Any) -> bool:
    if _missing(value):
        return True
    try:
        number = float(value)
    except (TypeError, ValueError):
        return True
    return not math.isfinite(number) or not number.is_integer()


def skl2onnx_feeds(sess: Any, rows: Rows) -> tuple[dict[str, Any], Any]:
    """Each input as declared. The rows a declared int64/bool input cannot hold (a missing
    value, a fraction in an int64 input) are returned, to be counted as outside tolerance."""
    import numpy as np

    cannot = np.zeros(len(rows.frame), dtype=bool)
    feeds = {}
    for arg in sess.get_inputs():
        if not rows.by_name:
            values = rows.frame.to_numpy(np.float64)
            feeds[arg.name] = values.astype(
                np.float32 if arg.type == "tensor(float)" else np.float64
            )
            continue
        column = rows.frame[arg.name].tolist()
        if arg.type == "tensor(string)":
            array = np.array([_text(v) for v in column], dtype=object)
        elif arg.type in ("tensor(double)", "tensor(float)"):
            array = np.array([np.nan if _missing(v) else float(v) for v in column])
            array = array.astype(np.float32 if arg.type == "tensor(float)" else np.float64)
        elif arg.type == "tensor(bool)":
            bad = np.array([_missing(v) for v in column], dtype=bool)
            array = np.array([not b and bool(v) for v, b in zip(column, bad, strict=True)])
            cannot |= bad
        else:  # tensor(int64)
            bad = np.array([_not_an_integer(v) for v in column], dtype=bool)
            array = np.array(
                [0 if b else int(float(v)) for v, b in zip(column, bad, strict=True)],
                dtype=np.int64,
            )
            cannot |= bad
        feeds[arg.name] = array.reshape(-1, 1)
    return feeds, cannot


def skl2onnx_outputs(
    sess: Any, feeds: dict[str, Any], rows: Rows, classes: list[Any]
) -> dict[str, Any]:
    import numpy as np

    values = sess.run(None, feeds)
    if rows.task == "regression":
        return {"prediction": np.asarray(values[0], np.float64).reshape(-1)}
    out = {"label": np.asarray(values[0]).reshape(-1)}
    if "probabilities" in rows.keys and len(values) > 1:
        proba = values[1]
        if isinstance(proba, list):  # a ZipMap the converter kept: a dict per row
            proba = [[_zipmap_value(row, c) for c in classes] for row in proba]
        out["probabilities"] = np.asarray(proba, np.float64)
    return out


def _zipmap_value(row: dict[Any, float], cls: Any) -> float:
    """A class's probability in a ZipMap's dict (keyed by the class, its text or its int)."""
    for key in (cls, str(cls), int(cls) if isinstance(cls, int | float) else None):
        if key is not None and key in row:
            return row[key]
    raise KeyError(f"class {cls!r} not in the ZipMap's keys {sorted(map(str, row))}")


def skl2onnx_variant(pipeline: Any, sample: Any, rows: Rows, variant: str) -> Outcome:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = skl2onnx_convert(pipeline, rows, sample, variant)
    except Exception as exc:
        return Outcome("refused", variant=variant, reason=first_line(exc))
    classes = list(getattr(_last_step(pipeline), "classes_", []))
    try:
        sess = session(model)
        feeds, cannot = skl2onnx_feeds(sess, rows)
        actual = skl2onnx_outputs(sess, feeds, rows, classes)
    except Exception as exc:
        return Outcome("crashes", variant=variant, reason=first_line(exc))
    return judge(rows, actual, variant, cannot)


#: The order variants are ranked in: a graph that converts and runs, then one that converts.
RANK = ("exact", "wrong", "crashes", "refused")


def _rank(o: Outcome) -> tuple[int, int, float]:
    """exact, then wrong on the fewest rows (then the smallest error), crashes, refused; among
    equals the first tried."""
    if o.outcome == "exact":
        return (0, 0, 0.0)
    return (RANK.index(o.outcome), o.rows_outside, o.max_abs_error)


def skl2onnx_best(pipeline: Any, sample: Any, rows: Rows) -> Outcome:
    tried = [skl2onnx_variant(pipeline, sample, rows, v) for v in VARIANTS]
    best = min(tried, key=_rank)
    if best.outcome == "refused":
        best = tried[0]  # the default's message: what a user sees first
    best.variants = {
        o.variant: {k: v for k, v in asdict(o).items() if k != "variants"} for o in tried
    }
    return best


# -- one pipeline, all tools ----------------------------------------------------------------------


def measure(subject: Subject, n: int) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline, sample = subject.fit()
        model, schema, refusal = pipeport_convert(pipeline, sample, subject.id, n)
        rows = evaluation_rows(pipeline, sample, schema, n)
        results = {
            "pipeport": (
                pipeport_run(model, schema, rows)
                if model is not None
                else Outcome("refused", reason=refusal)
            ),
            "skl2onnx": skl2onnx_best(pipeline, sample, rows),
        }
    return {
        "id": subject.id,
        "family": subject.family,
        "task": rows.task,
        "rows": len(rows.frame),
        "rows_with_missing": int(rows.with_missing.sum()),
        "rows_generated": rows.generated,
        "tools": {tool: asdict(o) for tool, o in results.items()},
    }


# -- the report -----------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONS:
        for dist in (name, f"{name}-cpu"):  # xgboost-cpu: XGBoost's CPU-only wheel
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                out[name] = "not installed"
    return out


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def describe(o: dict[str, Any]) -> str:
    variant = f" ({o['variant']})" if o["variant"] else ""
    if o["outcome"] == "exact":
        return "exact" + variant
    if o["outcome"] == "wrong":
        text = f"{o['rows_outside']:,} of {o['rows']:,} rows outside"
        if o["rows_it_cannot_take"]:
            text += f" ({o['rows_it_cannot_take']:,} it cannot take)"
        if o["reason"]:
            text += f"; {o['reason']}"
        else:
            text += f"; max abs {o['max_abs_error']:.2g}, rel {o['max_rel_error']:.2g}"
        return "wrong" + variant + ": " + _cell(text)
    return f"{o['outcome']}{variant}: {_cell(o['reason'])}"


def counts(members: list[dict[str, Any]], tool: str) -> str:
    found = Counter(r["tools"][tool]["outcome"] for r in members)
    return " / ".join(str(found[o]) for o in OUTCOMES)


def markdown(
    results: list[dict[str, Any]],
    vers: dict[str, str],
    n: int,
    skipped: list[dict[str, Any]] | None = None,
) -> str:
    skipped = skipped or []
    lines = [
        "# pipeport and skl2onnx on the same pipelines",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + f"; target_opset "
        f"{TARGET_OPSET}. Rows per pipeline: the sample plus {n:,} generated raw rows, less "
        "those scikit-learn raises on. *exact*: labels equal on every row, probabilities within "
        "1e-6 absolute, regression within 1e-6 relative, against scikit-learn's own predict / "
        "predict_proba. Cells: exact / wrong / refused / crashes at run time. skl2onnx: the "
        f"best of its {len(VARIANTS)} input-type variants ({', '.join(VARIANTS)}).",
        "",
        "| family | pipelines | pipeport | skl2onnx |",
        "|---|---:|---|---|",
    ]
    families = list(dict.fromkeys(r["family"] for r in results))
    for family in families:
        members = [r for r in results if r["family"] == family]
        lines.append(
            f"| {family} | {len(members)} | {counts(members, 'pipeport')} | "
            f"{counts(members, 'skl2onnx')} |"
        )
    lines.append(
        f"| **total** | {len(results)} | {counts(results, 'pipeport')} | "
        f"{counts(results, 'skl2onnx')} |"
    )
    if skipped:
        lines += [
            "",
            f"Not measured ({len(skipped)}; scikit-learn's rows could not be built): "
            + "; ".join(f"{s['id']} ({_cell(s['reason'])})" for s in skipped),
        ]
    lines += [
        "",
        "## Every pipeline",
        "",
        "| pipeline | family | rows | pipeport | skl2onnx |",
        "|---|---|---:|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['id']} | {r['family']} | {r['rows']:,} | {describe(r['tools']['pipeport'])} "
            f"| {describe(r['tools']['skl2onnx'])} |"
        )
    for tool in TOOLS:
        off = [r for r in results if r["tools"][tool]["outcome"] in ("wrong", "crashes")]
        if not off:
            continue
        lines += [
            "",
            f"## Where {tool} converts but disagrees (or cannot run)",
            "",
            "| pipeline | variant | rows | outside | of them with a missing value | of them "
            "sample rows | rows it cannot take | label mismatches | max abs error | max rel "
            "error |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in off:
            o = r["tools"][tool]
            head = f"| {r['id']} | {o['variant']} | {r['rows']:,} | "
            if o["outcome"] == "crashes":
                lines.append(head + f"crashes: {_cell(o['reason'])} | | | | | | |")
                continue
            lines.append(
                head + f"{o['rows_outside']:,} | {o['outside_with_missing']:,} | "
                f"{o['outside_in_sample']:,} | {o['rows_it_cannot_take']:,} | "
                f"{o['label_mismatches']:,} | {o['max_abs_error']:.3g} | {o['max_rel_error']:.3g} |"
            )
    for tool in TOOLS:
        reasons = Counter(
            r["tools"][tool]["reason"] for r in results if r["tools"][tool]["outcome"] == "refused"
        )
        if reasons:
            lines += [
                "",
                f"## Why {tool} refused (first line of the exception)",
                "",
                "| pipelines | reason |",
                "|---:|---|",
            ]
            lines += [f"| {k} | {_cell(reason)} |" for reason, k in reasons.most_common()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", help="comma-separated ids (support cases or users' pipelines); default: all"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=10_000,
        help="generated raw rows per pipeline (default 10000, as the gate)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench" / "results" / "compare_converters.json",
        help="where to write every figure",
    )
    args = parser.parse_args(argv)
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()} if args.cases else None
    onnxmltools = register_boosting_converters()
    vers = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()), file=sys.stderr)
    if not onnxmltools:
        print(
            "onnxmltools is not installed: skl2onnx has no LightGBM/XGBoost converter",
            file=sys.stderr,
        )
    todo = subjects(wanted)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    began = time.perf_counter()
    for i, subject in enumerate(todo, 1):
        start = time.perf_counter()
        try:
            result = measure(subject, args.rows)
        except Exception as exc:  # the rows could not be built: nothing to compare on
            skipped.append({"id": subject.id, "family": subject.family, "reason": first_line(exc)})
            print(f"[{i}/{len(todo)}] {subject.id}: skipped ({first_line(exc)})", file=sys.stderr)
            continue
        result["seconds"] = round(time.perf_counter() - start, 2)
        results.append(result)
        print(
            f"[{i}/{len(todo)}] {subject.id}: {result['rows']:,} rows; "
            + "; ".join(f"{t} {describe(result['tools'][t])}" for t in TOOLS)
            + f" ({result['seconds']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        # after every pipeline, so that a run cut short keeps what it measured
        write_json(args.json, vers, args.rows, results, skipped, time.perf_counter() - began)
    write_json(args.json, vers, args.rows, results, skipped, time.perf_counter() - began)
    sys.stdout.write(markdown(results, vers, args.rows, skipped))
    return 0


def write_json(
    path: Path,
    vers: dict[str, str],
    rows: int,
    results: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
    seconds: float,
) -> None:
    totals = {
        tool: {o: sum(r["tools"][tool]["outcome"] == o for r in results) for o in OUTCOMES}
        for tool in TOOLS
    }
    payload = {
        "versions": vers,
        "target_opset": TARGET_OPSET,
        "rows": rows,
        "variants": list(VARIANTS),
        "pipelines": len(results),
        "totals": totals,
        "seconds": round(seconds, 1),
        "skipped": skipped,
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(payload), indent=1, default=str) + "\n")


def _finite(value: Any) -> Any:
    """JSON without NaN/Infinity tokens: a non-finite error is written as a string."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
