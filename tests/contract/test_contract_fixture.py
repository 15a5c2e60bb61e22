"""pipeport.contract accepts, refuses and encodes exactly the rows of the hand-written fixture
(the JavaScript clients are held to the same file in tests/clients)."""

from __future__ import annotations

import contract_cases
import pytest

from pipeport.contract import raw_rows_to_feeds
from pipeport.errors import RawInputError
from pipeport.schema import ModelSchema

SCHEMA = ModelSchema.from_metadata(contract_cases.load()["metadata"])


@pytest.mark.parametrize("case", contract_cases.cases(), ids=lambda c: c["name"])
def test_python_contract_matches_the_fixture(case):
    if "error" in case:
        with pytest.raises(RawInputError) as caught:
            raw_rows_to_feeds(case["rows"], SCHEMA)
        where = [(e.row, e.field) for e in caught.value.errors]
        assert where == [(case["error"]["row"], case["error"]["field"])]
        return
    feeds = raw_rows_to_feeds(case["rows"], SCHEMA)
    assert set(feeds) == set(case["feeds"])
    for name, expected in case["feeds"].items():
        assert feeds[name].shape == (len(case["rows"]), 1)
        assert contract_cases.same_values(expected, feeds[name][:, 0].tolist()), name


def test_the_fixture_covers_every_rule():
    names = " ".join(c["name"] for c in contract_cases.cases())
    for rule in ("unused", "booleans", "normalised", "empty string", "refuses", "unknown key"):
        assert rule in names, rule
