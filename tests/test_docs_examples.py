"""Every command and code example in the docs runs as written (tests/docs_examples.py): a reader
who pastes them gets what the docs say, and an example cannot silently rot."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_examples import REPO, RUNNABLE, blocks, run_block, session_folder

#: The Markdown files whose examples this test runs, block by block, in order.
DOCS = [REPO / "docs" / "converters.md", REPO / "docs" / "python-api.md"]


@pytest.mark.parametrize("doc", [d for d in DOCS if d.exists()], ids=lambda d: d.name)
def test_every_example_of_the_doc_runs(doc: Path, tmp_path: Path) -> None:
    folder = session_folder(tmp_path)
    runnable = [b for b in blocks(doc) if b.language in RUNNABLE]
    assert runnable, f"{doc.name} has no runnable example"
    for block in runnable:
        result = run_block(block, folder)
        assert result.returncode == 0, (
            f"{block.id} ({block.language}) failed:\n{block.code}\n"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )
