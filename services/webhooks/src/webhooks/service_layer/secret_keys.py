"""Re-sealing the stored signing secrets under the newest encryption key, after a key rotation.

``WEBHOOKS_SECRET_ENCRYPTION_KEY`` is a key list, newest first. Every subscription stores the id of the key that
sealed its current and its previous secret; this job (a ``PeriodicJob``: one replica per tick) finds the ones not
under the newest key, re-seals them in chunks (each chunk its own short transaction, rows locked ``FOR UPDATE SKIP
LOCKED`` so a concurrent rotation of a subscription's secret is never overwritten) and reports how many remain. Run
again it finds nothing to do. A secret that no key of the ring opens is left as it is and counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from webhooks.adapters.repositories import SubscriptionRepository
from webhooks.adapters.secrets import SecretUndecryptable
from webhooks.service_layer.context import SecretSealer

log = structlog.get_logger("webhooks.secret_keys")

REMAINING = Gauge(
    "webhook_signing_secrets_not_under_newest_key",
    "Subscriptions with a signing secret not sealed under the newest key (as of the last re-seal run here)",
)
RESEALED = Counter("webhook_signing_secrets_resealed_total", "Subscriptions whose signing secrets were re-sealed")
UNDECRYPTABLE = Gauge(
    "webhook_signing_secrets_undecryptable",
    "Subscriptions whose signing secret no key of the ring opens (as of the last re-seal run here)",
)


@dataclass(frozen=True)
class ResealReport:
    resealed: int
    undecryptable: int
    remaining: int


async def reseal_signing_secrets(
    uow: Callable[[], UnitOfWork],
    read: Callable[[], ReadOnlyUnitOfWork],
    box: SecretSealer,
    *,
    chunk: int = 100,
    max_chunks: int = 1000,
) -> ResealReport:
    resealed = undecryptable = 0
    after: uuid.UUID | None = None
    for _ in range(max_chunks):
        async with uow() as work:
            repo = SubscriptionRepository(work.session)
            batch = await repo.sealed_under_other_keys(box.key_id, after=after, limit=chunk)
            for sealed in batch:
                values: dict[str, Any] = {}
                try:
                    if sealed.secret_key_id != box.key_id:
                        values.update(secret_encrypted=box.reseal(sealed.secret_encrypted), secret_key_id=box.key_id)
                    if sealed.previous_secret_encrypted is not None and sealed.previous_secret_key_id != box.key_id:
                        values.update(
                            previous_secret_encrypted=box.reseal(sealed.previous_secret_encrypted),
                            previous_secret_key_id=box.key_id,
                        )
                except SecretUndecryptable:
                    undecryptable += 1
                    log.error("webhook_signing_secret_undecryptable", subscription_id=str(sealed.subscription_id))
                    continue
                await repo.update(sealed.subscription_id, **values)
                resealed += 1
            await work.commit()
        if len(batch) < chunk:
            break
        after = batch[-1].subscription_id
    async with read() as reader:
        remaining = await SubscriptionRepository(reader.session).count_sealed_under_other_keys(box.key_id)
    RESEALED.inc(resealed)
    REMAINING.set(remaining)
    UNDECRYPTABLE.set(undecryptable)
    # every run says how many remain: the rotation procedure waits for remaining=0 (services/webhooks/README.md)
    log.info(
        "webhook_signing_secrets_resealed",
        resealed=resealed,
        remaining=remaining,
        undecryptable=undecryptable,
        key_id=box.key_id,
    )
    return ResealReport(resealed=resealed, undecryptable=undecryptable, remaining=remaining)
