"""Fast unique identifiers for decisions and requests.

``uuid.uuid4`` reads the OS random source on every call, which costs about 0.2 ms in
some sandboxes (measured: 188 ms for 1,000 decisions). Ids here are a 64-bit random
prefix, drawn once per generator, followed by a counter: unique within the process,
distinct across restarts, and as cheap as formatting an integer.
"""

from __future__ import annotations

import itertools
import secrets
import threading


class IdGenerator:
    """32 hex characters: a random prefix per generator, then a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()
        self._lock = threading.Lock()

    @property
    def prefix(self) -> str:
        """The 16 hex characters every id of this generator starts with."""
        return self._prefix

    def next(self) -> str:
        with self._lock:
            n = next(self._counter)
        return f"{self._prefix}{n:016x}"
