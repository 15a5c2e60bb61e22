"""What the LightGBM and XGBoost converters share: trees read from a library's own dump, flattened
into one TreeEnsemble (ai.onnx.ml 5), and pandas `category` columns mapped to the codes the
library saw in training.

Trees. A converter describes each node of a library's tree as a `Split` (or a leaf value) and
`Ensemble` lays the trees out as TreeEnsemble attributes. Nodes are numbered in pre-order, true
branch first, because that is the order in which onnx's reference evaluator reads the member
sets of BRANCH_MEMBER nodes (`membership_values`), while onnxruntime reads them in node order:
numbered so, both read the same sets.

Categories. A categorical split tests a whole category: the libraries truncate the value to an
integer first (LightGBM `static_cast<int>`, XGBoost `AsCat`), and so does onnxruntime when it
checks membership, but the reference evaluator compares floats exactly. `shifted_codes` therefore
makes every value entering a set split a whole number itself, shifted by one (`CODE_SHIFT`):
onnx's reference evaluator reads each member set up to its first falsy value, so a member 0.0
would end its set early. Values outside the categories a library can hold become 0 (no member).

Pandas. A `category` column handed to the model inside a DataFrame reaches it as its category
codes, looked up by value among the categories of training (LightGBM `set_categories`, XGBoost's
re-coding). The contract feeds the raw value, so `category_codes` looks it up the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import numpy_helper

from pipeport.contract import MISSING_CATEGORY, normalise_category
from pipeport.errors import UnsupportedStepError
from pipeport.export.graph import DOUBLE, ML_DOMAIN, STRING, Col, Graph

BRANCH_LEQ = 0
BRANCH_LT = 1
BRANCH_MEMBER = 6
#: Codes enter set splits shifted by this (see the module docstring).
CODE_SHIFT = 1.0
#: Categories at or above this are refused (onnxruntime checks membership on int32 values).
MAX_CATEGORY = 2**30


@dataclass(frozen=True)
class Split:
    """One internal node, as the TreeEnsemble tests it."""

    feature: int  # column of the ensemble's input
    mode: int  # BRANCH_LEQ, BRANCH_LT or BRANCH_MEMBER
    threshold: float  # BRANCH_LEQ / BRANCH_LT
    members: tuple[int, ...]  # BRANCH_MEMBER: the categories (unshifted) that go to `true`
    missing_true: bool  # a NaN goes to `true`
    true: Any  # the library's handle of the child taken when the test holds
    false: Any


#: A converter's description of a node: a Split, or a leaf's value.
Describe = Callable[[Any], "Split | float"]


@dataclass
class Ensemble:
    """TreeEnsemble v5 attributes for many trees, added one tree at a time."""

    featureids: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    modes: list[int] = field(default_factory=list)
    members: list[float] = field(default_factory=list)
    true_ids: list[int] = field(default_factory=list)
    true_leafs: list[int] = field(default_factory=list)
    false_ids: list[int] = field(default_factory=list)
    false_leafs: list[int] = field(default_factory=list)
    missing_true: list[int] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)
    leaf_targets: list[int] = field(default_factory=list)
    leaf_weights: list[float] = field(default_factory=list)

    def add_tree(self, root: Any, describe: Describe, target: int) -> None:
        """Append the tree under `root`; each of its leaves adds its value to output `target`.
        Iterative, so that a deep tree (LightGBM grows leaf-wise) needs no deep recursion."""
        self.roots.append(len(self.featureids))
        first = describe(root)
        if not isinstance(first, Split):
            # One leaf: a split whose branches reach two copies of it. (Not one leaf reached by
            # both branches: onnx's reference evaluator reads such a tree's weight at the index
            # of its root node instead of its leaf's.)
            root = self._append(Split(0, BRANCH_LEQ, 0.0, (), False, None, None))
            self._link(root, True, self._leaf(first, target), True)
            self._link(root, False, self._leaf(first, target), True)
            return
        stack: list[tuple[Split, int, bool]] = [(first, -1, True)]
        while stack:
            split, parent, side = stack.pop()
            index = self._append(split)
            if parent >= 0:
                self._link(parent, side, index, False)
            # false pushed first: the true subtree is numbered first (pre-order, true first)
            for child, is_true in ((split.false, False), (split.true, True)):
                node = describe(child)
                if isinstance(node, Split):
                    stack.append((node, index, is_true))
                else:
                    self._link(index, is_true, self._leaf(node, target), True)

    def _append(self, split: Split) -> int:
        self.featureids.append(split.feature)
        self.modes.append(split.mode)
        self.splits.append(float(split.threshold) if split.mode != BRANCH_MEMBER else 0.0)
        if split.mode == BRANCH_MEMBER:
            if any(not 0 <= m < MAX_CATEGORY - 1 for m in split.members):
                raise UnsupportedStepError(
                    f"a categorical split tests categories {sorted(split.members)[:5]}...; "
                    f"pipeport exports categories 0 to {MAX_CATEGORY - 2}"
                )
            self.members.extend(float(m) + CODE_SHIFT for m in sorted(split.members))
            self.members.append(float("nan"))
        self.missing_true.append(int(split.missing_true))
        for ids in (self.true_ids, self.true_leafs, self.false_ids, self.false_leafs):
            ids.append(-1)
        return len(self.featureids) - 1

    def _link(self, node: int, true_side: bool, child: int, is_leaf: bool) -> None:
        if true_side:
            self.true_ids[node], self.true_leafs[node] = child, int(is_leaf)
        else:
            self.false_ids[node], self.false_leafs[node] = child, int(is_leaf)

    def _leaf(self, value: float, target: int) -> int:
        self.leaf_targets.append(target)
        self.leaf_weights.append(float(value))
        return len(self.leaf_weights) - 1

    @property
    def max_feature(self) -> int:
        return max(self.featureids, default=-1)

    def node(self, g: Graph, X: str, n_targets: int, hint: str) -> str:
        """The TreeEnsemble node (SUM, no post transform): [N, n_targets] float64."""
        extra: dict[str, Any] = {}
        if self.members:
            extra["membership_values"] = numpy_helper.from_array(
                np.asarray(self.members, np.float64), "members"
            )
        return str(
            g.op(
                "TreeEnsemble",
                [X],
                hint,
                domain=ML_DOMAIN,
                aggregate_function=1,  # SUM
                post_transform=0,  # NONE
                n_targets=n_targets,
                tree_roots=self.roots,
                nodes_featureids=self.featureids,
                nodes_splits=numpy_helper.from_array(np.asarray(self.splits, np.float64), "s"),
                nodes_modes=numpy_helper.from_array(np.asarray(self.modes, np.uint8), "modes"),
                nodes_truenodeids=self.true_ids,
                nodes_trueleafs=self.true_leafs,
                nodes_falsenodeids=self.false_ids,
                nodes_falseleafs=self.false_leafs,
                nodes_missing_value_tracks_true=self.missing_true,
                leaf_targetids=self.leaf_targets,
                leaf_weights=numpy_helper.from_array(
                    np.asarray(self.leaf_weights, np.float64), "w"
                ),
                **extra,
            )
        )


# -- the ensemble's input ---------------------------------------------------------------------


def pick(g: Graph, X: str, features: Sequence[int], hint: str) -> str:
    """Columns `features` of the [N, F] tensor X."""
    return str(g.op("Gather", [X, g.const(np.asarray(features, np.int64), "cols")], hint, axis=1))


def shifted_codes(g: Graph, X: str, negatives_truncate: bool) -> str:
    """Each value of X (float64) as the whole category a set split tests, plus CODE_SHIFT; 0 (no
    member) for a value that is no category; NaN stays NaN.

    negatives_truncate: LightGBM truncates toward zero, so -0.5 is category 0 and only values at
    or below -1 are negative (its `int_fval < 0`); XGBoost calls every value below 0 invalid.
    """
    low = (
        g.op("Greater", [X, g.const(np.array([[-1.0]]), "minus_one")], "above_low")
        if negatives_truncate
        else g.op("GreaterOrEqual", [X, g.const(np.array([[0.0]]), "zero")], "above_low")
    )
    high = g.op("Less", [X, g.const(np.array([[float(MAX_CATEGORY)]]), "max_category")], "below")
    valid = g.op("And", [low, high], "is_category")
    whole = g.op("Floor", [g.op("Abs", [X], "magnitude")], "whole")
    shifted = g.op("Add", [whole, g.const(np.array([[CODE_SHIFT]]), "code_shift")], "shifted")
    codes = g.op("Where", [valid, shifted, g.const(np.array([[0.0]]), "zero")], "codes")
    nan = g.const(np.array([[np.nan]]), "nan")
    return str(g.op("Where", [g.op("IsNaN", [X], "is_nan"), nan, codes], "category_codes"))


def category_codes(
    g: Graph,
    col: Col,
    categories: Sequence[Any],
    where: str,
    model: Any,
    refuses_unseen: bool,
) -> str:
    """[N, 1] float64: the position of the raw value among `categories` (the column's training
    categories), NaN for a missing value and for one not among them, as pandas' `cat.codes`
    after `set_categories(categories)` gives it (-1 read as NaN).

    The keys are the categories as the contract feeds them: normalised text for a text column,
    float64 for a column of numbers or booleans. With `refuses_unseen` (the library raises on a
    category it never saw), every runtime refuses such a value instead."""
    text = g.natural_type(col) == STRING
    x = g.column(col, where, model, want=STRING if text else DOUBLE)
    codes = np.arange(len(categories), dtype=np.int64)
    if text:
        keys: list[Any] = [normalise_category(c) for c in categories]
        if MISSING_CATEGORY in keys:
            raise UnsupportedStepError(
                f"Step '{where}' learned the empty string as a category of column {col.name!r}; "
                "pipeport feeds a missing value as the empty string, so the two would mix. "
                "Replace empty strings (e.g. with NaN or a word) before training"
            )
        index = g.op(
            "LabelEncoder",
            [x],
            "category",
            domain=ML_DOMAIN,
            keys_strings=keys,
            values_int64s=codes.tolist(),
            default_int64=-1,
        )
    else:
        keys = [float(c) for c in categories]
        index = g.op(
            "LabelEncoder",
            [x],
            "category",
            domain=ML_DOMAIN,
            keys_tensor=numpy_helper.from_array(np.asarray(keys, np.float64), "keys"),
            values_tensor=numpy_helper.from_array(codes, "values"),
            default_tensor=numpy_helper.from_array(np.asarray([-1], np.int64), "default"),
        )
    if len(set(keys)) != len(keys):
        raise UnsupportedStepError(
            f"Step '{where}': two categories of column {col.name!r} read the same once "
            f"normalised ({keys[:10]}); pipeport cannot tell them apart"
        )
    g.note_categories(col, keys, where, refuses_unseen=refuses_unseen)
    unseen = g.op("Less", [index, g.const(np.array([[0]], np.int64), "zero_i64")], "unseen")
    as_double = g.op("Cast", [index], "code", to=DOUBLE)
    return str(
        g.op("Where", [unseen, g.const(np.array([[np.nan]]), "nan"), as_double], "pandas_code")
    )


def is_pandas_category(g: Graph, col: Col) -> bool:
    """Does `col` reach the model as a pandas `category` column (a raw one, passed through)?"""
    return col.block is None and col.name in g.raw and g.raw[col.name].dtype == "category"


def feature_matrix(
    g: Graph, cols: Sequence[Col], where: str, model: Any, replaced: dict[int, str]
) -> str:
    """[N, len(cols)] float64: the model's input columns, with the columns of `replaced` (by
    position) given as [N, 1] tensors instead (pandas codes)."""
    if not replaced:
        return str(g.matrix(list(cols), where, model))
    pieces: list[str] = []
    run: list[Col] = []
    for i, col in enumerate(cols):
        if i in replaced:
            if run:
                pieces.append(g.matrix(run, where, model))
                run = []
            pieces.append(replaced[i])
        else:
            run.append(col)
    if run:
        pieces.append(g.matrix(run, where, model))
    if len(pieces) == 1:
        return pieces[0]
    return str(g.op("Concat", pieces, "features", axis=1))
