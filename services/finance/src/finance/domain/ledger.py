"""Double-entry ledger rules (TigerBeetle-style), pure.

* An account has four counters: ``debits_posted``, ``credits_posted``, ``debits_pending``, ``credits_pending``;
  its balance is ``credits_posted - debits_posted`` and what it may still spend is that minus ``debits_pending``.
  Accounts flagged ``allow_negative`` (the treasury, the outside world, households that owe) may spend beyond it;
  every other account (fund sources, projects, public income, contribution pools) may not — the database
  enforces this with a check constraint on the counters.
* A transfer moves ``amount_fen`` from its debit account to its credit account. It is immutable and identified
  by a client-supplied id: the same id with the same body returns the first result, another body is a conflict.
* Two-phase: a ``pending`` transfer reserves the amount; a later ``post_pending`` transfer (up to the reserved
  amount) or ``void_pending`` transfer resolves it, exactly once.
* A linked group posts all or nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from finance.domain.errors import RuleViolation

MAX_TRANSFER_FEN = 10**15  # fits BIGINT sums with plenty of room
MAX_GROUP_SIZE = 500


class AccountKind(StrEnum):
    GOVERNMENT = "government"  # treasury / finance bureau: the origin of public money (may go negative)
    EXTERNAL = "external"  # the outside world: banks, payers, contractors (may go negative)
    FUND_SOURCE = "fund_source"  # one of the "four a little" sources of a plan, or a district's emergency fund
    PROJECT = "project"
    COMMUNITY_PUBLIC_INCOME = "community_public_income"
    HOUSEHOLD = "household"  # what a household has paid in minus what it was charged (negative = owes)
    CONTRIBUTION_POOL = "contribution_pool"  # a contribution scheme's collected money
    REPAIR = "repair"  # clearing account of one emergency repair


NEGATIVE_ALLOWED_BY_DEFAULT = frozenset({AccountKind.GOVERNMENT, AccountKind.EXTERNAL, AccountKind.HOUSEHOLD})


class TransferKind(StrEnum):
    POSTED = "posted"  # single-phase
    PENDING = "pending"
    POST_PENDING = "post_pending"
    VOID_PENDING = "void_pending"


@dataclass(frozen=True)
class TransferSpec:
    """What a client asks for. For post/void, accounts may be omitted (taken from the pending transfer)."""

    id: str
    kind: TransferKind
    debit_account_id: str | None
    credit_account_id: str | None
    amount_fen: int | None
    pending_id: str | None = None
    code: str = "transfer"
    reference: str | None = None
    memo: str | None = None

    def validate(self) -> None:
        if self.kind in (TransferKind.POSTED, TransferKind.PENDING):
            if self.debit_account_id is None or self.credit_account_id is None:
                raise RuleViolation("accounts_required", "a transfer needs a debit and a credit account")
            if self.debit_account_id == self.credit_account_id:
                raise RuleViolation("same_account", "debit and credit accounts must differ")
            if self.amount_fen is None or not 0 < self.amount_fen <= MAX_TRANSFER_FEN:
                raise RuleViolation("invalid_amount", f"amount_fen must be between 1 and {MAX_TRANSFER_FEN}")
            if self.pending_id is not None:
                raise RuleViolation("unexpected_pending_id", "only post_pending / void_pending name a pending_id")
        else:
            if self.pending_id is None:
                raise RuleViolation("pending_id_required", f"a {self.kind} transfer must name pending_id")
            if self.amount_fen is not None and not 0 < self.amount_fen <= MAX_TRANSFER_FEN:
                raise RuleViolation("invalid_amount", f"amount_fen must be between 1 and {MAX_TRANSFER_FEN}")

    def body_hash(self) -> str:
        """Fingerprint of everything but the id: a retry must match it exactly."""
        body: dict[str, Any] = {
            "kind": self.kind.value,
            "debit": self.debit_account_id,
            "credit": self.credit_account_id,
            "amount": self.amount_fen,
            "pending": self.pending_id,
            "code": self.code,
            "reference": self.reference,
            "memo": self.memo,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PendingTransfer:
    id: str
    debit_account_id: str
    credit_account_id: str
    amount_fen: int


@dataclass(frozen=True)
class Resolved:
    """A transfer fully determined: accounts, amount and its effect on the counters."""

    spec: TransferSpec
    debit_account_id: str
    credit_account_id: str
    amount_fen: int
    pending_amount_fen: int = 0  # for post/void: the reserved amount being released


def resolve(spec: TransferSpec, pending: PendingTransfer | None) -> Resolved:
    spec.validate()
    if spec.kind in (TransferKind.POSTED, TransferKind.PENDING):
        assert spec.debit_account_id and spec.credit_account_id and spec.amount_fen
        return Resolved(spec, spec.debit_account_id, spec.credit_account_id, spec.amount_fen)
    if pending is None:
        raise RuleViolation("pending_transfer_not_found", "the pending transfer does not exist", status=404)
    for given, actual in (
        (spec.debit_account_id, pending.debit_account_id),
        (spec.credit_account_id, pending.credit_account_id),
    ):
        if given is not None and given != actual:
            raise RuleViolation("pending_accounts_mismatch", "accounts differ from the pending transfer's")
    amount = pending.amount_fen if spec.amount_fen is None else spec.amount_fen
    if spec.kind is TransferKind.VOID_PENDING and amount != pending.amount_fen:
        raise RuleViolation("void_amount_mismatch", "a void releases the whole pending amount")
    if amount > pending.amount_fen:
        raise RuleViolation("post_exceeds_pending", f"at most {pending.amount_fen} fen can be posted")
    return Resolved(spec, pending.debit_account_id, pending.credit_account_id, amount, pending.amount_fen)


@dataclass
class Counters:
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


def apply(resolved: Resolved, debit: Counters, credit: Counters) -> tuple[int, int]:
    """Apply a transfer to the two accounts' counters; return the posted deltas (debit side, credit side)."""
    kind = resolved.spec.kind
    amount = resolved.amount_fen
    if kind is TransferKind.POSTED:
        debit.debits_posted += amount
        credit.credits_posted += amount
        return -amount, amount
    if kind is TransferKind.PENDING:
        debit.debits_pending += amount
        credit.credits_pending += amount
        return 0, 0
    debit.debits_pending -= resolved.pending_amount_fen
    credit.credits_pending -= resolved.pending_amount_fen
    if kind is TransferKind.POST_PENDING:
        debit.debits_posted += amount
        credit.credits_posted += amount
        return -amount, amount
    return 0, 0
