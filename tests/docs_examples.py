"""The code blocks of README.md and docs/*.md, as a reader would run them.

Each Markdown file is one session in a fresh temporary folder (with the repository's data/ and
configs/ linked in, and `pipeport` on PATH): its ```python blocks run as scripts, its ```sh
blocks as bash scripts (`set -e`: every command must succeed), in the order they appear, so a
later block can use what an earlier one wrote. A block preceded by
`<!-- docs-test: file NAME -->` is written to NAME instead (a module the next blocks import).
Blocks in other languages (json, text, console output) are not commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"<!--\s*docs-test:\s*(.+?)\s*-->")
RUNNABLE = {"python", "sh", "bash"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    code: str
    marker: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, with the docs-test marker just above each."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        language, start = match.group(1), i
        marker = None
        for back in range(start - 1, max(start - 3, -1), -1):
            found = _MARKER.search(lines[back])
            if found:
                marker = found.group(1)
                break
            if lines[back].strip():
                break
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        out.append(Block(path, start + 1, language, "\n".join(body) + "\n", marker))
    return out


def session_folder(tmp: Path) -> Path:
    for name in ("data", "configs"):
        (tmp / name).symlink_to(REPO / name)
    return tmp


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = "."
    env.pop("PIPEPORT_PORT", None)
    return env


def run_block(block: Block, folder: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Write a file block, or run a command block in `folder`."""
    if block.marker and block.marker.startswith("file "):
        (folder / block.marker.split(" ", 1)[1].strip()).write_text(block.code)
        return subprocess.CompletedProcess([], 0, "", "")
    if block.language == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    return subprocess.run(
        command,
        cwd=folder,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
