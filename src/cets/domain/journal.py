"""The journal's hash chain: every accepted command, in order, tamper-evident.

Entry `seq` (1, 2, 3, ... with no gaps) stores
`hash = sha256(prev_hash || canonical_bytes(entry) || the canonical lines of its transfers)`, where
`prev_hash` is the previous entry's hash (64 zeros before the first). The entry's fields are joined
by the ASCII unit separator, the body being the command's canonical JSON exactly as stored; the
transfers the command made are stored once, in the transfers table, and covered by the hash through
`transfer_line` (in the order they were made). Changing, inserting or deleting any past journal row
or transfer row breaks the chain at that entry, and `first_break` names it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENESIS_HASH = "0" * 64
_US = "\x1f"  # unit separator: between fields
_RS = b"\x1e"  # record separator: before each transfer line


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    at_us: int  # microseconds since the Unix epoch, UTC
    kind: str  # the command's name, e.g. "transfer", "open_accounts"
    actor: str  # who gave the command
    body: str  # the command's canonical JSON
    hash: str
    transfers: tuple[str, ...] = ()  # `transfer_line` of each transfer the command made


def transfer_line(
    transfer_id: str,
    debit_account_id: int,
    credit_account_id: int,
    asset: str,
    amount: int,
    code: str,
    flags: int,
    pending_id: str | None,
    ref: str | None,
    timestamp: int,
) -> str:
    """A transfer's canonical text, as the journal hash covers it."""
    return _US.join(
        (
            transfer_id,
            str(debit_account_id),
            str(credit_account_id),
            asset,
            str(amount),
            code,
            str(flags),
            pending_id or "",
            ref or "",
            str(timestamp),
        )
    )


def chain_hash(
    prev_hash: str,
    seq: int,
    at_us: int,
    kind: str,
    actor: str,
    body: str,
    transfers: Sequence[str] = (),
) -> str:
    digest = hashlib.sha256(bytes.fromhex(prev_hash))
    digest.update(f"{seq}{_US}{at_us}{_US}{kind}{_US}{actor}{_US}{body}".encode())
    for line in transfers:
        digest.update(_RS)
        digest.update(line.encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"journal broken at seq {self.seq}: {self.reason}"


def first_break(
    entries: Iterable[JournalEntry], head: tuple[int, str] | None = None
) -> ChainBreak | None:
    """The first entry whose hash or position is wrong, or None when the chain holds.

    `head` is the (seq, hash) the store recorded as its last append; when given, an entry deleted
    from the end of the journal is caught too.
    """
    prev_hash, expected_seq = GENESIS_HASH, 1
    for e in entries:
        if e.seq != expected_seq:
            return ChainBreak(expected_seq, f"entry {expected_seq} missing (next found is {e.seq})")
        if chain_hash(prev_hash, e.seq, e.at_us, e.kind, e.actor, e.body, e.transfers) != e.hash:
            return ChainBreak(
                e.seq, "hash does not match the entry, its transfers and its predecessor"
            )
        prev_hash, expected_seq = e.hash, expected_seq + 1
    if head is not None and head != (expected_seq - 1, prev_hash):
        return ChainBreak(
            expected_seq, f"journal ends at seq {expected_seq - 1}, head says {head[0]}"
        )
    return None
