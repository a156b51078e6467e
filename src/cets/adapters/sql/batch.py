"""The rows one batch appends, built in memory between the kernel and the writes.

Each accepted command gets the next journal sequence number; each transfer it made gets the next
ordinal and links to the previous transfer of its debit and credit accounts (the accounts' history
chains); the command's journal hash covers its canonical body and the canonical lines of its
transfers. Refused and replayed commands append nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cets.adapters.sql.hotpath import Row
from cets.domain.errors import RejectCode
from cets.domain.journal import chain_hash, transfer_line
from cets.domain.ledger.kernel import BatchResult
from cets.domain.ledger.model import Transfer, TransferFlags
from cets.service.canonical import canonical_json
from cets.service.ports import Command, CommandResult

_LINKED = int(TransferFlags.LINKED)
_CHAIN_FOLLOWERS = (None, RejectCode.linked_event_failed)


@dataclass(frozen=True, slots=True)
class Head:
    """The journal's last entry and the last transfer's ordinal, as locked by this transaction."""

    seq: int
    hash: str
    transfers: int


class BatchRows:
    """The rows a batch appends: journal entries and transfers, numbered and chained in order."""

    __slots__ = ("digest", "journal", "last_transfer", "now_us", "ordinal", "seq", "transfers")

    def __init__(self, head: Head, now_us: int, last_transfer: dict[int, int | None]) -> None:
        self.seq, self.digest, self.ordinal = head.seq, head.hash, head.transfers
        self.now_us = now_us
        self.last_transfer = last_transfer
        self.journal: list[Row] = []
        self.transfers: list[Row] = []

    def command(self, cmd: Command, outcome: BatchResult, s: int, e: int) -> CommandResult:
        """The command's result from its span [s, e) of the batch; rows for what it made."""
        codes, stored, replayed = outcome.codes, outcome.stored, outcome.replayed
        if e - s == 1:  # the common case, without the general case's slices
            if codes[s] is not None:
                return CommandResult(codes[s], outcome.messages[s])
            tr = stored[s]
            assert tr is not None
            if replayed[s]:
                return CommandResult(None, "", (tr,), True)
            return self._accept(cmd, (tr,), (tr,))
        culprit = next((i for i in range(s, e) if codes[i] not in _CHAIN_FOLLOWERS), None)
        if culprit is not None:
            return CommandResult(codes[culprit], outcome.messages[culprit])
        done = tuple(tr for tr in stored[s:e] if tr is not None)
        new = tuple(tr for i, tr in zip(range(s, e), done, strict=True) if not replayed[i])
        if done and not new:
            return CommandResult(None, "", done, True)
        return self._accept(cmd, done, new)

    def _accept(
        self, cmd: Command, done: tuple[Transfer, ...], new: tuple[Transfer, ...]
    ) -> CommandResult:
        self.seq = seq = self.seq + 1
        last = self.last_transfer
        lines = []
        for tr in new:
            self.ordinal = ordinal = self.ordinal + 1
            debit, credit = tr.debit_account_id, tr.credit_account_id
            row = (
                tr.id,
                debit,
                credit,
                tr.asset,
                tr.amount,
                tr.code,
                tr.flags,
                tr.pending_id,
                tr.ref,
                tr.timestamp,
            )
            lines.append(transfer_line(*row))
            self.transfers.append((*row, seq, ordinal, last.get(debit), last.get(credit)))
            last[debit] = last[credit] = ordinal
        body = canonical_json(cmd.body)
        self.digest = chain_hash(self.digest, seq, self.now_us, cmd.kind, cmd.actor, body, lines)
        self.journal.append((seq, self.now_us, cmd.kind, cmd.actor, body, self.digest))
        return CommandResult(None, "", done, False, seq)


def as_chains(commands: Sequence[Command]) -> tuple[list[Transfer], list[tuple[int, int]]]:
    """The batch's transfers, each command's made one linked chain; and each command's span."""
    batch: list[Transfer] = []
    spans: list[tuple[int, int]] = []
    for cmd in commands:
        start = len(batch)
        transfers = cmd.transfers
        if len(transfers) == 1 and not transfers[0].flags & _LINKED:
            batch.append(transfers[0])  # the common case: nothing to relink
        else:
            last = len(transfers) - 1
            for j, tr in enumerate(transfers):
                flags = (tr.flags | _LINKED) if j < last else (tr.flags & ~_LINKED)
                batch.append(tr if flags == tr.flags else replace(tr, flags=flags))
        spans.append((start, len(batch)))
    return batch, spans
