"""Give back the resident pages of read-only, unmodified file mappings (code and constants of
shared libraries) before the workers fork.

Why: loading the model runs much of onnxruntime's library once (graph optimisation, kernel
registration) and leaves ~12 MiB of its code resident in the process that loaded it; the workers,
forked from it, touch only the part that runs a request. Those pages count in the server's memory
(PSS) although the main process never runs that code again. `MADV_DONTNEED` on a mapping that is
read-only and has no private (modified) page drops the process's references only: the contents
are the file's, still in the page cache, and any process that needs a page maps it again on first
touch. Linux only; anything unexpected leaves the mapping alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re

_MADV_DONTNEED = 4
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$")


def release_clean_file_pages() -> int:
    """Drop this process's resident pages of clean read-only file mappings; bytes released."""
    try:
        text = open("/proc/self/smaps").read()  # noqa: SIM115 (read at once)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return 0
    madvise = libc.madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    released = 0
    for start, end, perms, path, fields in _mappings(text):
        if (
            not path.startswith("/")
            or perms[1] != "-"  # writable
            or perms[3] != "p"
            or fields.get("Private_Dirty", 1)
            or fields.get("Anonymous", 1)
            or fields.get("Shared_Dirty", 1)
            or not fields.get("Rss")
        ):
            continue
        if madvise(start, end - start, _MADV_DONTNEED) == 0:
            released += fields["Rss"] * 1024
    return released


def _mappings(text: str) -> list[tuple[int, int, str, str, dict[str, int]]]:
    out: list[tuple[int, int, str, str, dict[str, int]]] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            start, end, perms, path = header.groups()
            out.append((int(start, 16), int(end, 16), perms, path, {}))
        elif out and line.endswith(" kB"):
            name, _, value = line.partition(":")
            out[-1][4][name] = int(value.split()[0])
    return out
