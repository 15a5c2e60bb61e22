"""The code blocks of README.md and docs/*.md, as a reader would run them.

Each Markdown file is one session in a fresh temporary folder (with the repository's data/ and
configs/ linked in, and `pipeport` on PATH): its ```python blocks run as scripts, its ```sh
blocks as bash scripts (`set -e`: every command must succeed), in the order they appear, so a
later block can use what an earlier one wrote. The documented port 8000 is swapped for a free
one in every block of the session (`127.0.0.1:8000`, `localhost:8000`, `--port 8000`).

A marker just above a block (`<!-- docs-test: KIND -->`) says how to run it:

- `file NAME`: the block is written to NAME (a module the next blocks import, a config they use).
- `server`: the block starts a server; it runs in the background until the session ends, and the
  next block starts once the server answers `GET /v2/health/ready`.
- `synopsis`: the block shows a command's forms with placeholders (`MODEL.onnx`, `[--flag N]`):
  each `pipeport SUBCOMMAND` line is checked against `pipeport SUBCOMMAND --help`, every option
  it shows must exist there.
- `quickstart`: `make demo` runs (with the free port and a temporary artifacts folder) as a
  server; `make test` is what CI runs (`.ci/run`), that is, this suite.

```toml blocks must be files (a config the next blocks use); blocks in other languages (json,
text, console output) are not commands.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"<!--\s*docs-test:\s*(.+?)\s*-->")
_PORT = re.compile(r"((?:127\.0\.0\.1|localhost|0\.0\.0\.0):|--port[ =])8000\b")
RUNNABLE = {"python", "sh", "bash"}
#: Languages a block may have without being run: what a command prints or a request carries.
OUTPUT_LANGUAGES = {"", "json", "text", "console", "js", "html"}
MARKERS = ("file", "server", "synopsis", "quickstart")


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

    @property
    def kind(self) -> str | None:
        return self.marker.split(" ", 1)[0] if self.marker else None

    @property
    def runs(self) -> bool:
        return self.language in RUNNABLE or self.kind is not None


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


def problems(block: Block) -> list[str]:
    """What is wrong with how a block is marked (a command that would never run, say)."""
    if block.kind is not None and block.kind not in MARKERS:
        return [f"{block.id}: unknown docs-test marker {block.marker!r}; known: {MARKERS}"]
    if block.language == "toml" and block.kind != "file":
        return [f"{block.id}: a toml block must be a file (<!-- docs-test: file NAME -->)"]
    if block.language not in RUNNABLE | OUTPUT_LANGUAGES | {"toml"}:
        return [f"{block.id}: unknown block language {block.language!r}"]
    return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = "."
    env.pop("PIPEPORT_PORT", None)
    return env


@dataclass
class Session:
    """One Markdown file's run: its folder, its port and the servers its blocks started."""

    folder: Path
    port: int = field(default_factory=free_port)
    servers: list[tuple[Block, subprocess.Popen[str]]] = field(default_factory=list)
    _help: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, tmp: Path) -> Session:
        for name in ("data", "configs"):
            (tmp / name).symlink_to(REPO / name)
        return cls(tmp)

    def code(self, block: Block) -> str:
        return _PORT.sub(lambda m: f"{m.group(1)}{self.port}", block.code)

    def run(self, block: Block, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run one block; a failed result (returncode != 0) says what went wrong."""
        if block.kind == "file":
            assert block.marker is not None
            (self.folder / block.marker.split(" ", 1)[1].strip()).write_text(block.code)
            return _ok()
        if block.kind == "server":
            return self.serve(block, ["bash", "-e", "-c", self.code(block)])
        if block.kind == "synopsis":
            return self.check_synopsis(block)
        if block.kind == "quickstart":
            return self.quickstart(block)
        if block.language == "python":
            command = [sys.executable, "-c", self.code(block)]
        else:
            command = ["bash", "-e", "-o", "pipefail", "-c", self.code(block)]
        return subprocess.run(
            command,
            cwd=self.folder,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def serve(
        self, block: Block, command: list[str], cwd: Path | None = None, wait: float = 120
    ) -> subprocess.CompletedProcess[str]:
        log = (self.folder / f"server-{block.line}.log").open("w")
        process = subprocess.Popen(
            command,
            cwd=cwd or self.folder,
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.servers.append((block, process))
        url = f"http://127.0.0.1:{self.port}/v2/health/ready"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return _failed(f"the server exited ({process.returncode}):\n{_tail(log.name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return _ok()
            except OSError:
                time.sleep(0.2)
        return _failed(f"no answer from {url} after {wait:.0f} s:\n{_tail(log.name)}")

    def check_synopsis(self, block: Block) -> subprocess.CompletedProcess[str]:
        text = re.sub(r"\\\n", " ", block.code)
        errors, commands, subcommand = [], 0, ""
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] != "pipeport":
                if subcommand and line.startswith((" ", "\t")):  # the command above, continued
                    words = ["pipeport", subcommand, *words]
                else:
                    errors.append(f"not a pipeport command: {line.strip()!r}")
                    continue
            subcommand = words[1]
            commands += 1
            help_text = self.help(subcommand)
            if help_text is None:
                errors.append(f"`pipeport {subcommand} --help` failed")
                continue
            for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", " ".join(words[2:])):
                if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text):
                    errors.append(f"`pipeport {subcommand}` has no option {option}")
        if commands == 0:
            errors.append("a synopsis block without a pipeport command")
        return _failed("\n".join(errors)) if errors else _ok()

    def help(self, subcommand: str) -> str | None:
        if subcommand not in self._help:
            result = subprocess.run(
                [sys.executable, "-m", "pipeport", subcommand, "--help"],
                capture_output=True,
                text=True,
                env=environment(),
                cwd=self.folder,
                check=False,
            )
            self._help[subcommand] = result.stdout if result.returncode == 0 else ""
        return self._help[subcommand] or None

    def quickstart(self, block: Block) -> subprocess.CompletedProcess[str]:
        for line in block.code.splitlines():
            command = line.split("#", 1)[0].strip()
            if command == "make demo":
                started = self.serve(
                    block,
                    [
                        "make",
                        "-C",
                        str(REPO),
                        "demo",
                        f"PORT={self.port}",
                        f"DEMO_DIR={self.folder / 'demo-artifacts'}",
                    ],
                    wait=900,
                )
                if started.returncode:
                    return started
            elif command == "make test":
                ci = (REPO / ".ci" / "run").read_text()
                if "make test" not in ci.splitlines()[-1]:
                    return _failed(".ci/run does not end with `make test`")
            elif command:
                return _failed(f"a quickstart block holds `make demo` and `make test`: {line!r}")
        return _ok()

    def close(self) -> None:
        for _, process in self.servers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _ok() -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], 0, "", "")


def _failed(message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], 1, "", message)


def _tail(path: str, size: int = 3000) -> str:
    return Path(path).read_text(errors="replace")[-size:]


def session_folder(tmp: Path) -> Path:
    """The folder of a session without servers (kept for callers of the first version)."""
    return Session.start(tmp).folder


def run_block(block: Block, folder: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run one block in `folder` (a session of its own: no servers, no port swapping)."""
    return Session(folder).run(block, timeout)
