"""The graph under construction, and the columns that flow through it.

A fitted pipeline is converted step by step over *columns*: a step receives the list of columns
scikit-learn would give it and returns the columns it produces. Each column is one column of a
tensor (a `Block`); a raw input column is materialised as a graph input only when a step first
reads it, as a number (float64) or as text (string), so one rule decides each input's type: what
the steps that read it need. Columns also carry their lineage, when it is simple enough to be
useful: the raw column they repeat value for value (so an encoder's categories can be checked
against what a client sends), and an affine map from it (so the parity harness can aim raw values
at a tree's split points).

Names are deterministic (a counter per hint), so the same pipeline gives the same file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from pipeport.errors import UnsupportedStepError

DOUBLE: int = TensorProto.DOUBLE
STRING: int = TensorProto.STRING
INT64: int = TensorProto.INT64
FLOAT: int = TensorProto.FLOAT
BOOL: int = TensorProto.BOOL
ML_DOMAIN = "ai.onnx.ml"
#: Opsets every file is written at: onnxruntime 1.30 runs them in Python, Node.js and WASM alike.
#: ai.onnx.ml 5 for TreeEnsemble (float64 in and out).
OPSET = 21
ML_OPSET = 5
_TYPE_NAME: dict[int, str] = {
    DOUBLE: "numbers",
    STRING: "text",
    INT64: "integers",
    FLOAT: "float32",
    BOOL: "booleans",
}


@dataclass(frozen=True)
class Block:
    """A [N, width] tensor of the graph."""

    tensor: str
    dtype: int
    width: int


@dataclass(frozen=True)
class Col:
    """One column of the data between two steps."""

    name: str  # its feature name (scikit-learn's get_feature_names_out where known)
    block: Block | None  # None: a raw input not yet materialised
    index: int = 0
    #: The raw column this column repeats value for value (missing values possibly imputed).
    raw: str | None = None
    #: (raw column, a, b): this column is a * raw + b wherever the raw value is not missing.
    affine: tuple[str, float, float] | None = None
    #: A text column in which scikit-learn, too, holds a missing value as "" (after pipeport's
    #: MissingCategory) rather than as NaN.
    missing_is_empty: bool = False

    @property
    def is_text(self) -> bool:
        return self.block is not None and self.block.dtype == STRING


@dataclass
class RawColumn:
    """A raw input column: what the training data held, and what the graph made of it."""

    name: str
    onnx_name: str
    natural: int  # DOUBLE for numbers/booleans, STRING for text
    values: str  # "numbers", "booleans" or "text"
    dtype: str
    chosen: int | None = None  # the input's type once a step has read it
    chosen_by: str = ""
    #: The categories each encoder learned for this column: (step path, values, refuses unseen).
    categories: list[tuple[str, tuple[Any, ...], bool]] = field(default_factory=list)
    #: Bounds steps need its values within (a log, a square root): (bound kind, value, why).
    bounds: list[tuple[str, float, str]] = field(default_factory=list)


#: The graph's outputs (docs/onnx-contract.md): no input or internal tensor takes these names.
OUTPUT_NAMES = ("label", "probabilities", "prediction")


def onnx_input_names(raw_names: Sequence[str]) -> list[str]:
    """Graph input names for raw column names: letters, digits and underscores only (every ONNX
    consumer accepts them; skl2onnx's rule), made unique. The metadata maps one to the other."""
    out: list[str] = []
    seen: set[str] = set(OUTPUT_NAMES)  # a column called "label" is fed as "label_1"
    for raw in raw_names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", raw) or "input"
        if base[0].isdigit():
            base = "_" + base
        name, k = base, 1
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        out.append(name)
    return out


class Graph:
    """Nodes, initializers and inputs of the graph being built."""

    def __init__(self, raw_columns: Sequence[RawColumn]) -> None:
        self.raw = {c.name: c for c in raw_columns}
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.opsets: dict[str, int] = {"": OPSET}
        self._counts: dict[str, int] = {}
        #: Every name given out, and the graph inputs' names: a constant hinted "k" must not
        #: take the name of a raw column called "k".
        self._taken: set[str] = {c.onnx_name for c in raw_columns} | set(OUTPUT_NAMES)
        self._matrices: dict[tuple[Any, ...], str] = {}
        self._constants: dict[tuple[Any, ...], str] = {}
        #: The columns the final model receives (their lineage maps split points to raw values).
        self.model_inputs: list[Col] = []
        #: The columns of every [N, k] tensor `matrix` built, by tensor name (so a tree
        #: ensemble's split on feature j can be traced to a raw column: parity_tests.rows).
        self.matrix_cols: dict[str, list[Col]] = {}

    # -- names, nodes, constants ----------------------------------------------------------------

    def name(self, hint: str) -> str:
        """A fresh name from `hint`: the hint itself, or hint_1, hint_2, ... (never a graph
        input's name or one given out before)."""
        hint = re.sub(r"[^A-Za-z0-9_]", "_", hint) or "t"
        k = self._counts.get(hint, 0)
        name = hint if k == 0 else f"{hint}_{k}"
        while name in self._taken:
            k += 1
            name = f"{hint}_{k}"
        self._counts[hint] = k + 1
        self._taken.add(name)
        return name

    def op(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str | None = None,
        *,
        domain: str = "",
        outputs: int | Sequence[str] = 1,
        **attrs: Any,
    ) -> Any:
        """Add one node. Returns its output name (or the list of names if several)."""
        base = hint or op_type.lower()
        names = (
            [self.name(base if outputs == 1 else f"{base}_{i}") for i in range(outputs)]
            if isinstance(outputs, int)
            else list(outputs)
        )
        if domain:
            self.opsets.setdefault(domain, ML_OPSET if domain == ML_DOMAIN else 1)
        self.nodes.append(
            helper.make_node(
                op_type, list(inputs), names, name=self.name(f"n_{base}"), domain=domain, **attrs
            )
        )
        return names[0] if isinstance(outputs, int) and outputs == 1 else names

    def const(self, value: Any, hint: str = "c") -> str:
        """An initializer holding `value` (float64 unless it is already typed); identical
        constants are stored once."""
        array = np.asarray(value)
        if array.dtype.kind in "OUS":
            array = np.asarray([str(v) for v in array.ravel()], dtype=object).reshape(array.shape)
        key = (
            array.dtype.str,
            array.shape,
            array.tobytes() if array.dtype != object else tuple(array.ravel().tolist()),
        )
        found = self._constants.get(key)
        if found is not None:
            return found
        name = self.name(hint)
        if array.dtype == object:
            tensor = helper.make_tensor(
                name, STRING, list(array.shape), [v.encode("utf-8") for v in array.ravel()]
            )
        else:
            tensor = numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        self._constants[key] = name
        return name

    def rename_output(self, old: str, new: str) -> None:
        """Make the tensor `old` be called `new` (for the graph's outputs)."""
        for node in self.nodes:
            node.input[:] = [new if i == old else i for i in node.input]
            node.output[:] = [new if o == old else o for o in node.output]

    # -- columns --------------------------------------------------------------------------------

    def raw_cols(self) -> list[Col]:
        return [
            Col(c.name, None, 0, raw=c.name, affine=(c.name, 1.0, 0.0)) for c in self.raw.values()
        ]

    def block(
        self,
        tensor: str,
        names: Sequence[str],
        dtype: int = DOUBLE,
        *,
        raw: Sequence[str | None] | None = None,
        affine: Sequence[tuple[str, float, float] | None] | None = None,
    ) -> list[Col]:
        """The columns of a new [N, len(names)] tensor."""
        b = Block(tensor, dtype, len(names))
        return [
            Col(
                str(n),
                b,
                j,
                raw=raw[j] if raw is not None else None,
                affine=affine[j] if affine is not None else None,
            )
            for j, n in enumerate(names)
        ]

    def input_of(self, col: Col, want: int, where: str, step: Any) -> Col:
        """`col` materialised, with type `want` (DOUBLE or STRING) for a raw column."""
        if col.block is not None:
            return col
        raw = self.raw[col.name]
        if raw.values == "datetimes":
            raise UnsupportedStepError(
                f"Step '{where}' ({type(step).__name__}) reads column {raw.name!r}, which holds "
                f"dates and times ({raw.dtype}); pipeport's contract takes numbers, booleans and "
                "text. Derive numbers from it (e.g. a year, or days since a date) before the "
                "pipeline, or register a converter for a transformer that does "
                "(docs/converters.md)"
            )
        if raw.chosen is None:
            if want == DOUBLE and raw.natural == STRING:
                raise UnsupportedStepError(
                    f"Step '{where}' ({type(step).__name__}) reads column {raw.name!r} as numbers, "
                    f"but it holds text in the training data (dtype {raw.dtype}); convert it to "
                    "numbers before the pipeline, or encode it (OneHotEncoder, OrdinalEncoder)"
                )
            raw.chosen, raw.chosen_by = want, where
        elif raw.chosen != want:
            raise UnsupportedStepError(
                f"Column {raw.name!r} is read as {_TYPE_NAME[raw.chosen]} by step "
                f"'{raw.chosen_by}' and as {_TYPE_NAME[want]} by step '{where}'; pipeport feeds "
                "each raw column as one type. Read it one way (e.g. encode the text form in both "
                "steps), or pass the column twice under two names"
            )
        block = Block(raw.onnx_name, want, 1)
        return replace(col, block=block, index=0)

    def natural_type(self, col: Col) -> int:
        """The type a step that takes either would read `col` as."""
        if col.block is not None:
            return col.block.dtype
        raw = self.raw[col.name]
        return raw.chosen if raw.chosen is not None else raw.natural

    def column(self, col: Col, where: str, step: Any, want: int | None = None) -> str:
        """A [N, 1] tensor holding `col` (read as `want`, or its natural type)."""
        col = self.input_of(col, want if want is not None else self.natural_type(col), where, step)
        assert col.block is not None
        if want is not None and col.block.dtype != want:
            raise UnsupportedStepError(
                f"Step '{where}' ({type(step).__name__}) reads column {col.name!r} as "
                f"{_TYPE_NAME[want]}, but the step before it makes {_TYPE_NAME[col.block.dtype]}"
            )
        if col.block.width == 1:
            return col.block.tensor
        return self.matrix([col], where, step, want=col.block.dtype)

    def matrix(self, cols: Sequence[Col], where: str, step: Any, want: int = DOUBLE) -> str:
        """A [N, len(cols)] tensor of `cols`, in order: whole blocks as they are, parts of
        blocks gathered, pieces concatenated. Every column must be (or become) of type `want`."""
        cols = [self.input_of(c, want, where, step) for c in cols]
        wrong = [c for c in cols if c.block is not None and c.block.dtype != want]
        if wrong:
            c = wrong[0]
            assert c.block is not None
            raise UnsupportedStepError(
                f"Step '{where}' ({type(step).__name__}) reads column {c.name!r} as "
                f"{_TYPE_NAME[want]}, but it holds {_TYPE_NAME[c.block.dtype]} at that point "
                "(an earlier step left it unencoded?)"
            )
        key = (want, tuple((c.block.tensor, c.index) for c in cols if c.block is not None))
        found = self._matrices.get(key)
        if found is not None:
            return found
        pieces: list[str] = []
        run: list[Col] = []

        def flush() -> None:
            if not run:
                return
            b = run[0].block
            assert b is not None
            indices = [c.index for c in run]
            if indices == list(range(b.width)):
                pieces.append(b.tensor)
            else:
                pieces.append(
                    self.op(
                        "Gather",
                        [b.tensor, self.const(np.array(indices, np.int64), "cols")],
                        "take",
                        axis=1,
                    )
                )
            run.clear()

        for c in cols:
            if run and c.block != run[0].block:
                flush()
            run.append(c)
        flush()
        out = pieces[0] if len(pieces) == 1 else self.op("Concat", pieces, "concat", axis=1)
        self._matrices[key] = out
        self.matrix_cols.setdefault(out, list(cols))
        return out

    # -- the contract -------------------------------------------------------------------------

    def note_categories(
        self, col: Col, categories: Sequence[Any], where: str, refuses_unseen: bool
    ) -> None:
        """An encoder learned `categories` for `col`; if it repeats a raw column, record them
        there (the metadata lists them; `refuses_unseen` makes every runtime refuse others)."""
        if col.raw is not None and col.raw in self.raw:
            self.raw[col.raw].categories.append((where, tuple(categories), refuses_unseen))
        elif refuses_unseen:
            raise UnsupportedStepError(
                f"Step '{where}' refuses unseen categories (handle_unknown='error'), but the "
                f"column it reads ({col.name!r}) is computed by earlier steps, so pipeport cannot "
                "name the raw values to refuse. Set handle_unknown='ignore' (or "
                "'use_encoded_value'), or encode the raw column directly"
            )

    def note_domain(self, col: Col, bound: str, value: float, where: str, why: str) -> None:
        """A step needs `col` to be `bound` `value` ("greater_than", "greater_or_equal", ...),
        as scikit-learn then raises downstream (a log of 0 is -inf, which a model refuses). If
        `col` is an affine map of a raw column, the bound is recorded on the raw column (the
        exporter keeps it only where scikit-learn does raise outside it); otherwise the gate
        leaves such rows out and reports them."""
        if col.affine is None or col.affine[0] not in self.raw or col.affine[1] == 0:
            return
        raw, scale, offset = col.affine
        limit = (value - offset) / scale
        if scale < 0:  # the inequality turns around
            bound = {
                "greater_than": "less_than",
                "greater_or_equal": "less_or_equal",
                "less_than": "greater_than",
                "less_or_equal": "greater_or_equal",
            }[bound]
        self.raw[raw].bounds.append((bound, float(limit), f"step '{where}' {why}"))

    # -- the model ----------------------------------------------------------------------------

    def build(self, name: str, inputs: list[Any], outputs: list[Any]) -> Any:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        opsets = [helper.make_opsetid(d, v) for d, v in sorted(self.opsets.items())]
        return helper.make_model(graph, opset_imports=opsets)
