"""Random bytes for ids (version 4 UUIDs of requests and commands) and for the nonces
of sealed values, cut from a buffer of the operating system's random bytes that is
refilled 4 KiB at a time.

``uuid.uuid4()`` and ``os.urandom(12)`` ask the kernel each time, and CPython lets go
of the interpreter lock around that call: on a busy server the request's thread then
queues for the lock again behind every other thread, several times per request. The
bytes are the same (``os.urandom``'s), each handed out once; a child process after
``fork`` starts with an empty buffer, so no two processes hand out the same bytes."""

from __future__ import annotations

import os
import threading
import uuid

_REFILL = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's random source, each handed out once."""
    global _buffer, _offset
    with _lock:
        if _offset + n > len(_buffer):
            _buffer = os.urandom(max(_REFILL, n))
            _offset = 0
        chunk = _buffer[_offset : _offset + n]
        _offset += n
    return chunk


def random_uuid() -> uuid.UUID:
    return uuid.UUID(bytes=random_bytes(16), version=4)


def _forget_after_fork() -> None:
    global _buffer, _offset
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_after_fork)
