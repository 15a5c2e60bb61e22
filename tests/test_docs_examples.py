"""Every command and code example in README.md and docs/ runs as written (tests/docs_examples.py):
a reader who pastes them gets what the docs say, and an example cannot silently rot."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_examples import REPO, Block, Session, blocks, problems

#: Every Markdown file a user reads: the README and docs/.
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: The ones with something to run, each one session.
RUNNABLE_DOCS = [d for d in DOCS if any(b.runs for b in blocks(d))]


def test_every_block_is_a_command_a_file_or_output():
    found = [p for doc in DOCS for b in blocks(doc) for p in problems(b)]
    assert found == []


def test_the_readme_and_the_guides_have_examples():
    names = {d.name for d in RUNNABLE_DOCS}
    assert {"README.md", "converters.md", "python-api.md", "serving.md", "batch.md"} <= names


@pytest.mark.parametrize("doc", RUNNABLE_DOCS, ids=lambda d: d.name)
def test_every_example_of_the_doc_runs(doc: Path, tmp_path: Path) -> None:
    session = Session.start(tmp_path)
    try:
        for block in [b for b in blocks(doc) if b.runs]:
            result = session.run(block)
            assert result.returncode == 0, (
                f"{block.id} ({block.language}, {block.marker or 'command'}) failed:\n"
                f"{block.code}\n--- stdout\n{result.stdout[-3000:]}\n"
                f"--- stderr\n{result.stderr[-3000:]}"
            )
    finally:
        session.close()


# The runner itself: each kind of block can fail.


def _block(code: str, language: str = "sh", marker: str | None = None) -> Block:
    return Block(REPO / "README.md", 1, language, code, marker)


def test_a_failing_command_fails(tmp_path):
    session = Session(tmp_path)
    assert session.run(_block("true\nfalse\necho never\n")).returncode != 0
    assert session.run(_block("import sys; sys.exit(3)\n", "python")).returncode != 0


def test_a_synopsis_with_an_option_the_command_lacks_fails(tmp_path):
    session = Session(tmp_path)
    good = "pipeport predict MODEL.onnx --input rows.csv --output out.csv\n  [--chunk-size N]\n"
    assert session.run(_block(good, marker="synopsis")).returncode == 0
    bad = session.run(_block("pipeport predict MODEL.onnx --no-such-option\n", marker="synopsis"))
    assert bad.returncode != 0 and "--no-such-option" in bad.stderr
    other = session.run(_block("rm -rf /tmp/x\n", marker="synopsis"))
    assert other.returncode != 0


def test_a_server_that_exits_fails_and_the_port_is_swapped(tmp_path):
    session = Session(tmp_path)
    try:
        block = _block("echo serving on 127.0.0.1:8000; exit 4\n", marker="server")
        result = session.run(block)
        assert result.returncode != 0
        assert f"127.0.0.1:{session.port}" in result.stderr
    finally:
        session.close()


def test_marking_problems_are_found():
    assert problems(_block("x = 1\n", "toml"))
    assert problems(_block("ls\n", marker="later"))
    assert problems(_block("print(1)\n", "pyhton"))
    assert not problems(_block("x = 1\n", "toml", "file config.toml"))
