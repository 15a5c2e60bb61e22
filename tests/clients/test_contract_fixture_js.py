"""clients/common/raw-rows.js (the Node.js and browser clients' contract) accepts, refuses and
encodes exactly the rows of the hand-written fixture that pipeport.contract is held to
(tests/contract/test_contract_fixture.py): one file, both languages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from clients_contract import require, run_node_script

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))

import contract_cases  # noqa: E402

from pipeport.parity_tests.runtimes.node import node_executable  # noqa: E402

pytestmark = pytest.mark.node

SCRIPT = r"""
const fs = require('fs');
const rawRows = require('./common/raw-rows.js');
const fixture = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const out = fixture.cases.map((c) => {
  try {
    const encoded = rawRows.encodeRows(fixture.metadata, c.rows);
    const feeds = {};
    for (const [k, v] of Object.entries(encoded)) {
      feeds[k] = v.map((x) => (typeof x === 'number' && Number.isNaN(x) ? 'NaN' : x));
    }
    return { feeds };
  } catch (err) {
    if (!(err instanceof rawRows.PipeportInputError)) return { crash: String(err) };
    return { error: { row: err.row, field: err.field }, message: err.message };
  }
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def js_results() -> list[dict]:
    require(node_executable)
    proc = run_node_script(SCRIPT, str(contract_cases.FIXTURE))
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


@pytest.mark.parametrize(
    "index", range(len(contract_cases.cases())), ids=[c["name"] for c in contract_cases.cases()]
)
def test_javascript_contract_matches_the_fixture(js_results, index):
    case, got = contract_cases.cases()[index], js_results[index]
    assert "crash" not in got, got
    if "error" in case:
        assert got.get("error") == case["error"], got
        assert case["error"]["field"] is None or case["error"]["field"] in got["message"]
        return
    assert "feeds" in got, got
    assert set(got["feeds"]) == set(case["feeds"])
    for name, expected in case["feeds"].items():
        assert contract_cases.same_values(expected, got["feeds"][name]), (name, got["feeds"][name])
