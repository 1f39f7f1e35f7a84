import pytest

from finance.domain.errors import RuleViolation
from finance.domain.ledger import Counters, PendingTransfer, TransferKind, TransferSpec, apply, resolve


def spec(**kw):
    base = {
        "id": "t1",
        "kind": TransferKind.POSTED,
        "debit_account_id": "a",
        "credit_account_id": "b",
        "amount_fen": 100,
    }
    base.update(kw)
    return TransferSpec(**base)


def test_validation():
    for bad, code in (
        (spec(amount_fen=0), "invalid_amount"),
        (spec(credit_account_id="a"), "same_account"),
        (spec(kind=TransferKind.POST_PENDING), "pending_id_required"),
    ):
        with pytest.raises(RuleViolation) as err:
            bad.validate()
        assert err.value.code == code


def test_body_hash_ignores_id_only():
    assert spec(id="x").body_hash() == spec(id="y").body_hash()
    assert spec(amount_fen=101).body_hash() != spec().body_hash()


def test_two_phase():
    debit, credit = Counters(credits_posted=1000), Counters()
    pending = resolve(spec(kind=TransferKind.PENDING), None)
    apply(pending, debit, credit)
    assert (debit.available, debit.balance, credit.credits_pending) == (900, 1000, 100)
    p = PendingTransfer("t1", "a", "b", 100)
    posted = resolve(
        spec(
            id="t2",
            kind=TransferKind.POST_PENDING,
            pending_id="t1",
            amount_fen=60,
            debit_account_id=None,
            credit_account_id=None,
        ),
        p,
    )
    apply(posted, debit, credit)
    assert (debit.balance, debit.debits_pending, credit.balance, credit.credits_pending) == (940, 0, 60, 0)
    with pytest.raises(RuleViolation) as err:
        resolve(spec(id="t3", kind=TransferKind.POST_PENDING, pending_id="t1", amount_fen=101), p)
    assert err.value.code == "post_exceeds_pending"
    with pytest.raises(RuleViolation) as err:
        resolve(spec(id="t3", kind=TransferKind.VOID_PENDING, pending_id="t1", amount_fen=50), p)
    assert err.value.code == "void_amount_mismatch"
