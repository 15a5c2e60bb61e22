"""HistGradientBoosting with `categorical_features`: native categorical splits as TreeEnsemble
set-membership nodes (BRANCH_MEMBER, ai.onnx.ml 5), read from the fitted predictors' bitsets.

What scikit-learn does with a categorical column, at predict time:

1. The model's own preprocessor (`_preprocessor`, a ColumnTransformer fitted with the model)
   maps each categorical column through an OrdinalEncoder(handle_unknown="use_encoded_value",
   unknown_value=NaN, encoded_missing_value=NaN): a category it learned becomes its code
   0..k-1, anything else (a missing value, a category never seen, a value from an upstream
   encoder's `unknown_value`, 2.5 in a column of whole numbers) becomes NaN. The categorical
   columns come first, the numeric ones after, and the trees' feature indices refer to that
   order. The graph converts that encoder with pipeport's encoder converter (its fitted
   categories, looked up as text or as numbers, whichever the column holds).
2. A categorical split sends a code left when its bit is set in the predictor's
   `raw_left_cat_bitsets` row, right when it is a known category (every code is), and NaN the
   way `missing_go_to_left` says (`_predict_one_from_raw_data`).

In the TreeEnsemble, such a node is BRANCH_MEMBER over the codes of the left bitset with
`nodes_missing_value_tracks_true` = missing_go_to_left; numeric splits stay BRANCH_LEQ on the
float64 thresholds. The codes enter the tree shifted by one (1..k): onnx's reference evaluator
reads `membership_values` up to the first falsy value, so a member 0.0 would end its set early.
A split whose left set holds no category (only missing values go left) is BRANCH_LEQ at 0.0:
every shifted code (>= 1) goes right and NaN follows the missing flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import numpy_helper

from pipeport.export.converters.tree_ensembles import _FlatTrees, _hgb_predictor
from pipeport.export.graph import ML_DOMAIN, Col, Graph

BRANCH_LEQ = 0
BRANCH_MEMBER = 6
#: Codes enter the trees shifted by this (see the module docstring).
CODE_SHIFT = 1.0


def has_categorical(model: Any) -> bool:
    return getattr(model, "is_categorical_", None) is not None and bool(
        np.any(model.is_categorical_)
    )


def bitset_members(words: np.ndarray) -> list[int]:
    """The values whose bit is set in one row of a scikit-learn bitset (8 x uint32, bit c % 32
    of word c // 32: `in_bitset_2d_memoryview`)."""
    words = np.asarray(words, dtype=np.uint64)
    return [c for c in range(32 * len(words)) if (int(words[c // 32]) >> (c % 32)) & 1]


@dataclass
class _SetSplitTrees(_FlatTrees):
    """_FlatTrees with a mode per node and the member sets of BRANCH_MEMBER nodes."""

    modes: list[int] = field(default_factory=list)
    membership: list[float] = field(default_factory=list)

    def add_predictor(self, predictor: Any, target: int) -> None:
        nodes = predictor.nodes
        is_leaf = nodes["is_leaf"].astype(bool)
        start = len(self.featureids)
        self.add_tree(**_hgb_predictor(predictor), target=target, node_values=nodes["value"])
        internal = np.flatnonzero(~is_leaf)
        if not len(internal):  # one leaf: _FlatTrees added one LEQ node whose branches meet
            self.modes.append(BRANCH_LEQ)
            return
        for k, node_id in enumerate(internal):  # _FlatTrees appends internal nodes in id order
            position = start + k
            if not nodes["is_categorical"][node_id]:
                self.modes.append(BRANCH_LEQ)
                continue
            left = bitset_members(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node_id]])
            if not left:
                self.modes.append(BRANCH_LEQ)
                self.splits[position] = 0.0
                continue
            self.modes.append(BRANCH_MEMBER)
            self.membership.extend([c + CODE_SHIFT for c in left] + [np.nan])
        assert len(self.modes) == len(self.featureids)

    def add_node(self, g: Graph, X: str, n_targets: int, hint: str) -> str:
        """The TreeEnsemble node, with its modes and member sets: [N, n_targets]."""
        members = (
            {
                "membership_values": numpy_helper.from_array(
                    np.asarray(self.membership, np.float64), "members"
                )
            }
            if self.membership
            else {}
        )
        return g.op(
            "TreeEnsemble",
            [X],
            hint,
            domain=ML_DOMAIN,
            aggregate_function=1,  # SUM
            post_transform=0,  # NONE
            n_targets=n_targets,
            tree_roots=self.roots,
            nodes_featureids=self.featureids,
            nodes_splits=numpy_helper.from_array(np.asarray(self.splits, np.float64), "splits"),
            nodes_modes=numpy_helper.from_array(np.asarray(self.modes, np.uint8), "modes"),
            nodes_truenodeids=self.true_ids,
            nodes_trueleafs=self.true_leafs,
            nodes_falsenodeids=self.false_ids,
            nodes_falseleafs=self.false_leafs,
            nodes_missing_value_tracks_true=self.missing_true,
            leaf_targetids=self.leaf_targets,
            leaf_weights=numpy_helper.from_array(np.asarray(self.leaf_weights, np.float64), "w"),
            **members,
        )


def _remapped_input(model: Any, cols: list[Col], g: Graph, where: str) -> str:
    """[N, n_features] float64 in the order the predictors read: the categorical columns' codes
    (shifted, NaN for missing or unknown), then the numeric columns."""
    from pipeport.export.structure import convert_transformer, join

    pre = model._preprocessor
    indices = pre._transformer_to_input_indices
    encoder = pre.named_transformers_["encoder"]
    codes = convert_transformer(
        encoder, [cols[i] for i in indices["encoder"]], g, join(where, "categorical_features")
    )
    shifted = g.op(
        "Add",
        [g.matrix(codes, where, model), g.const(np.array(CODE_SHIFT), "code_shift")],
        "category_codes",
    )
    numeric = [cols[i] for i in indices.get("numerical", [])]
    # the trees' feature i is this order's column i (the parity harness maps split values back
    # to raw values through it; codes have no such lineage)
    g.model_inputs = [*codes, *numeric]
    if not numeric:
        return shifted
    return g.op("Concat", [shifted, g.matrix(numeric, where, model)], "hgb_input", axis=1)


def categorical_trees(model: Any, cols: list[Col], g: Graph, where: str) -> tuple[_FlatTrees, str]:
    """The model's trees with set splits, and the input they read."""
    flat = _SetSplitTrees()
    for iteration in model._predictors:
        for k, predictor in enumerate(iteration):
            flat.add_predictor(predictor, k)
    return flat, _remapped_input(model, cols, g, where)


def check_categorical(model: Any) -> str | None:
    """Why this model's categorical features cannot be exported (None: they can)."""
    pre = getattr(model, "_preprocessor", None)
    if pre is None or "encoder" not in getattr(pre, "named_transformers_", {}):
        return (
            "it uses categorical_features but has no fitted category encoder (fitted with an "
            "older scikit-learn?); refit it with this version"
        )
    n_categorical = int(np.sum(model.is_categorical_))
    encoder_out = pre.output_indices_["encoder"]
    if (encoder_out.start, encoder_out.stop) != (0, n_categorical) or not np.all(
        model._is_categorical_remapped[:n_categorical]
    ):
        return "its categorical columns are not first in its own preprocessor's output"
    return None
