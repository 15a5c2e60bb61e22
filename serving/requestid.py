"""`X-Request-ID`: the id of a request, echoed in its response and in its prediction log line.

A client that sends one gets it back, so it can find its request in the log; a request without
one (or with one that is not a plain token) gets a new id. Every answer carries the header: the
fast path and Flask alike, errors included (serving.fastpath, serving.bridge).

A new id is a random per-process prefix and a counter (32 hex digits, like a UUID without
dashes): unique across workers and restarts, and ~10x cheaper than `uuid.uuid4()` on a request
path of ~25 µs. The prefix is drawn again in every forked child, so two workers never share one.
"""

from __future__ import annotations

import itertools
import os

HEADER = "X-Request-ID"
#: Where a front door leaves the id in the WSGI environ, for Flask (and the metrics middleware).
ENVIRON_KEY = "pipeport.request_id"
#: The longest id accepted from a client; a longer one is replaced.
MAX_LENGTH = 200

_prefix = ""
_counter = itertools.count()


def _new_prefix() -> None:
    global _prefix, _counter
    _prefix = os.urandom(8).hex()
    _counter = itertools.count()


_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def request_id(sent: str | None) -> str:
    """The client's id when it is 1 to MAX_LENGTH visible ASCII characters, else a new one."""
    if (
        sent
        and len(sent) <= MAX_LENGTH
        and sent.isascii()
        and sent.isprintable()
        and " " not in sent
    ):
        return sent
    return f"{_prefix}{next(_counter):016x}"
