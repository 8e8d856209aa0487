"""RFC 9162 §2.1.1 hashing: leaves are prefixed with 0x00, interior nodes with 0x01."""

from __future__ import annotations

from hashlib import sha256

HASH_SIZE = 32


def leaf_hash(entry_bytes: bytes) -> bytes:
    """SHA-256(0x00 ‖ entry bytes): the Merkle leaf and the ``prev`` link of the next entry."""
    return sha256(b"\x00" + entry_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return sha256(b"\x01" + left + right).digest()


EMPTY_TREE_HASH = sha256(b"").digest()
