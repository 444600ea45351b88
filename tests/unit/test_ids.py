"""Request and command ids: random version-4 UUIDs, never repeated, also across a fork."""

from __future__ import annotations

import os

from infrastructure.ids import random_uuid


def test_ids_are_version_4_uuids_and_never_repeat() -> None:
    ids = [random_uuid() for _ in range(50_000)]  # many refills of the buffer
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}


def test_a_forked_child_does_not_hand_out_its_parents_next_ids() -> None:
    random_uuid()  # the parent's buffer holds bytes for its next ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave at once
        os.write(write, b"".join(random_uuid().bytes for _ in range(4)))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64)
    os.close(read)
    os.close(write)
    parent = b"".join(random_uuid().bytes for _ in range(4))
    assert child != parent
