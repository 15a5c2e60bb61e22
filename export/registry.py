"""The converter registry: which class converts how, and what is refused and why.

Extension by registration, as skl2onnx's `update_registered_converter`: each file in
export/converters/ ends by registering a `Converter` per class family, stating the classes it
takes, the parameters it accepts (`check` returns the reason an instance cannot be exported) and
how it is exact. The support matrix (docs/support.md) and the refusal messages are generated from
these specs; `pipeport.register_converter` adds a user's own.

A transformer's `convert(step, cols, graph, where)` returns the columns the step produces; a
model's returns its outputs ({"label", "probabilities"}, {"prediction"} or, for an outlier
detector, {"label", "score"} tensor names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipeport.errors import UnsupportedStepError

Role = Literal["transformer", "classifier", "regressor", "outlier_detector"]


@dataclass(frozen=True)
class Converter:
    classes: tuple[type, ...]
    role: Role
    convert: Callable[..., Any]
    #: Returns why this fitted instance cannot be exported exactly (None: it can).
    check: Callable[[Any], str | None] | None = None
    #: The parameters accepted, in the user's terms (docs/support.md).
    accepts: str = "every parameter"
    #: Why the graph equals scikit-learn (docs/support.md).
    exactness: str = ""
    family: str = ""
    #: A predicate for classes matched by what they are rather than by name (a selector is any
    #: fitted scikit-learn SelectorMixin); None: the classes above, exactly.
    matches: Callable[[Any], bool] | None = None
    #: Who registered it: "pipeport" or the user's module.
    origin: str = "pipeport"
    #: For transformers a TransformedTargetRegressor may use: `inverse(step, X, graph, where)`
    #: returns the float64 [N, k] tensor of `step.inverse_transform` applied to tensor X.
    inverse: Callable[..., str] | None = None


class ModelOutputs(Mapping[str, str]):
    """A model's outputs, each built the first time it is asked for, so a graph holds only the
    nodes something reads: "label" [N], "probabilities" [N, K] (predict_proba), "decision"
    [N, 1] for two classes or [N, K] (decision_function), "prediction" [N, 1] (a regressor).

    A model converter returns one (or a dict of tensor names, wrapped into one); an ensemble
    reads its members' outputs from theirs (a soft vote their probabilities, a stack their
    decision functions), the top level reads the ones the file exposes.
    """

    def __init__(self, **outputs: str | Callable[[], str]) -> None:
        self._builders = outputs
        self._built: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key not in self._built:
            value = self._builders[key]
            self._built[key] = value() if callable(value) else value
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


_BY_CLASS: dict[type, Converter] = {}
_BY_PREDICATE: list[Converter] = []


def register(converter: Converter) -> Converter:
    """Register `converter` for its classes (replacing an earlier one for the same class)."""
    if converter.matches is not None:
        _BY_PREDICATE[:] = [c for c in _BY_PREDICATE if c.classes != converter.classes]
        _BY_PREDICATE.append(converter)
    for cls in converter.classes:
        _BY_CLASS[cls] = converter
    return converter


def converters() -> list[Converter]:
    """Every registered converter, once each, in registration order."""
    _load_builtin()
    seen: list[Converter] = []
    for converter in [*_BY_CLASS.values(), *_BY_PREDICATE]:
        if converter not in seen:
            seen.append(converter)
    return seen


def find(step: Any) -> Converter | None:
    _load_builtin()
    found = _BY_CLASS.get(type(step))
    if found is not None:
        return found
    for converter in _BY_PREDICATE:
        if converter.matches is not None and converter.matches(step):
            return converter
    return None


def lookup(step: Any, where: str, role: Role | None = None) -> Converter:
    """The converter for `step`, or UnsupportedStepError naming the step, why, and what to do."""
    converter = find(step)
    if converter is None:
        raise UnsupportedStepError(_no_converter(step, where))
    if role == "transformer" and converter.role != "transformer":
        raise UnsupportedStepError(
            f"Step '{where}' is a {describe(step)}, a model, in the middle of the pipeline; "
            "pipeport exports pipelines whose models come last (models combined with models: "
            "VotingClassifier, StackingClassifier and the other ensembles, docs/support.md)"
        )
    if role != "transformer" and role is not None and converter.role == "transformer":
        raise UnsupportedStepError(
            f"The last step, '{where}', is a {describe(step)}, a transformer: pipeport exports "
            "pipelines that end with a classifier, a regressor or an outlier detector"
        )
    if converter.check is not None:
        reason = converter.check(step)
        if reason:
            raise UnsupportedStepError(
                f"Step '{where}' is a {describe(step)}, which pipeport cannot export: {reason}"
            )
    return converter


def describe(step: Any, limit: int = 160) -> str:
    """`OneHotEncoder(handle_unknown='warn')`: the class and the parameters the user changed."""
    try:
        text = " ".join(repr(step).split())
    except Exception:  # a broken __repr__ of a user class
        text = type(step).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _no_converter(step: Any, where: str) -> str:
    cls = type(step)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    known = converters()
    families = sorted({c.family or c.role for c in known})
    count = len({k for c in known for k in c.classes})
    parent = next(
        (base for base in cls.__mro__[1:] if base in _BY_CLASS and base.__module__ != "builtins"),
        None,
    )
    hint = (
        f" It subclasses {parent.__name__}, which pipeport converts: if it computes what "
        f"{parent.__name__} computes, register the same converter for it."
        if parent is not None
        else ""
    )
    return (
        f"Step '{where}' is a {qualified}, which pipeport has no converter for.{hint} pipeport "
        f"exports Pipeline, ColumnTransformer and FeatureUnion of {count} step classes "
        f"({', '.join(families)}; docs/support.md lists them). For a class of your own, register "
        "a converter with pipeport.register_converter (docs/converters.md)"
    )


def class_names(classes: Sequence[type]) -> str:
    return ", ".join(c.__name__ for c in classes)


_loaded = False


def _load_builtin() -> None:
    """Import export/converters/ once: each module registers its converters when imported."""
    global _loaded
    if not _loaded:
        _loaded = True
        import pipeport.export.converters  # noqa: F401


# -- converters users register --------------------------------------------------------------------


class ConverterContext:
    """What a user's converter works with: the step's input columns, and a way to add nodes.

    A converter registered with `register_converter` is called as `convert(step, ctx)` with the
    fitted step and this context, and returns `ctx.result(tensor, names)`: the step's output
    columns, a float64 [N, k] tensor. Everything here is float64, as scikit-learn computes.
    """

    def __init__(self, step: Any, cols: list[Any], graph: Any, where: str) -> None:
        self.step = step
        self.where = where
        self._cols = cols
        self._graph = graph

    @property
    def input_names(self) -> list[str]:
        """The names of the columns the step receives (raw column names where they are raw)."""
        return [c.name for c in self._cols]

    def numbers(self, columns: Sequence[int | str] | None = None) -> str:
        """The step's input columns (all, or those given by position or name), read as numbers,
        as one float64 [N, k] tensor."""
        return self._graph.matrix(self._pick(columns), self.where, self.step)

    def text(self, column: int | str) -> str:
        """One input column, read as text, as a string [N, 1] tensor ("" for missing)."""
        from pipeport.export.graph import STRING

        (col,) = self._pick([column])
        return str(self._graph.column(col, self.where, self.step, want=STRING))

    def const(self, value: Any, hint: str = "c") -> str:
        """A constant tensor (float64 for Python floats; numpy arrays keep their dtype)."""
        return str(self._graph.const(value, hint))

    def op(
        self, op_type: str, inputs: Sequence[str], *, domain: str = "", **attributes: Any
    ) -> str:
        """Add one ONNX node (opset 21; ai.onnx.ml 5) and return its output tensor's name."""
        return str(
            self._graph.op(op_type, list(inputs), op_type.lower(), domain=domain, **attributes)
        )

    def result(self, tensor: str, names: Sequence[str]) -> list[Any]:
        """Declare the step's output: `tensor` is float64 [N, len(names)]."""
        return list(self._graph.block(tensor, [str(n) for n in names]))

    def _pick(self, columns: Sequence[int | str] | None) -> list[Any]:
        if columns is None:
            return list(self._cols)
        names = self.input_names
        picked = []
        for c in columns:
            if isinstance(c, str):
                if c not in names:
                    raise UnsupportedStepError(
                        f"Step '{self.where}': its converter asks for column {c!r}, but the step "
                        f"receives {names}"
                    )
                picked.append(self._cols[names.index(c)])
            else:
                picked.append(self._cols[c])
        return picked


def register_converter(
    cls: type,
    convert: Callable[[Any, ConverterContext], Any] | None = None,
    *,
    accepts: str = "as its converter says",
    exactness: str = "the converter's own; proven by the parity gate",
) -> Any:
    """Register `convert(step, ctx) -> ctx.result(...)` for your transformer class `cls`.

    Use it as a function, `pipeport.register_converter(YearsSince, convert_years_since)`, or as
    a decorator, `@pipeport.register_converter(YearsSince)`. From then on, in this process,
    `pipeport.to_onnx` exports pipelines holding `cls` and the parity gate proves them like any
    other step. docs/converters.md has a worked example.
    """

    def add(
        function: Callable[[Any, ConverterContext], Any],
    ) -> Callable[[Any, ConverterContext], Any]:
        def run(step: Any, cols: list[Any], graph: Any, where: str) -> list[Any]:
            out = function(step, ConverterContext(step, cols, graph, where))
            if not isinstance(out, list):
                raise UnsupportedStepError(
                    f"Step '{where}': the converter registered for {cls.__name__} returned "
                    f"{type(out).__name__}; it must return ctx.result(tensor, names)"
                )
            return out

        register(
            Converter(
                classes=(cls,),
                role="transformer",
                convert=run,
                family="registered by you",
                accepts=accepts,
                exactness=exactness,
                origin=getattr(function, "__module__", "user"),
            )
        )
        return function

    if convert is not None:
        add(convert)
        return convert
    return add
