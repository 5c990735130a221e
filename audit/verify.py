"""Checking a chain: the first record that was edited, deleted, reordered or given a forged hash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audit.records import GENESIS_HASH, AuditRecord


@dataclass(frozen=True)
class Break:
    """Where a chain stops being the one that was written, and what was done to it."""

    seq: int
    kind: str  # edited, deleted, reordered, forged_hash
    detail: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Verdict:
    """The result of a check: how many records were read, and the first break if there is one."""

    checked: int
    last_hash: str
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(records: Iterable[AuditRecord], head: tuple[int, str]) -> Verdict:
    """Check records in sequence order against each other and against the store's head (its last number and hash).

    Each record must be number n+1 after number n (a gap is a deleted record), name the previous record's hash as
    its `prev_hash` (else it was moved, or the one before had its hash recomputed after an edit), and hash to its
    stored hash (else a field was edited). The last must be the head (else records were deleted from the end, or
    the last one's hash was recomputed).
    """
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for record in records:
        if record.seq != expected_seq:
            missing = expected_seq if record.seq > expected_seq else record.seq
            kind = "deleted" if record.seq > expected_seq else "reordered"
            return Verdict(checked, prev_hash, Break(missing, kind, f"record {record.seq} follows {expected_seq - 1}"))
        valid = record.hash_is_valid()
        if record.prev_hash != prev_hash:
            if valid and checked:
                detail = f"its hash was recomputed: record {record.seq} names another hash as the one before it"
                return Verdict(checked, prev_hash, Break(record.seq - 1, "forged_hash", detail))
            detail = "it does not name the hash of the record before it (moved, or swapped with another)"
            return Verdict(checked, prev_hash, Break(record.seq, "reordered", detail))
        if not valid:
            detail = "its content does not match its hash (a field was changed after it was written)"
            return Verdict(checked, prev_hash, Break(record.seq, "edited", detail))
        expected_seq, prev_hash, checked = record.seq + 1, record.hash, checked + 1
    head_seq, head_hash = head
    if head_seq > checked:
        detail = f"the chain was written up to record {head_seq} and ends at {checked}"
        return Verdict(checked, prev_hash, Break(checked + 1, "deleted", detail))
    if head_seq == checked and head_hash != prev_hash and checked:
        detail = "its hash was recomputed: the chain's head holds another hash for it"
        return Verdict(checked, prev_hash, Break(checked, "forged_hash", detail))
    return Verdict(checked, prev_hash, None)
