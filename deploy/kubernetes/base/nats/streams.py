"""Create or update the JetStream streams with the wanted replica count (Kubernetes Job ``nats-streams``).

The services create their event stream themselves when it is missing, with one replica (enough for one host).
In a 3-node JetStream cluster this Job runs first and creates every stream replicated (``STREAM_REPLICAS``, 3 in
prod); a stream that already exists keeps its data and gets its replica count (and subjects) updated in place.

Environment: ``NATS_URL`` (credentials in the URL), ``STREAM_REPLICAS`` (default 1),
``DEVICES_MAX_AGE_HOURS`` (default 72, the smart-community service's own default
``SMART_COMMUNITY_DEVICES_STREAM_MAX_AGE_H``: how long raw device messages stay in the DEVICES stream).
Run with any service image: ``python /scripts/streams.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from nats.js import api
from nats.js.errors import NotFoundError

from renovation_common.messaging import DUPLICATE_WINDOW_S, PRODUCERS, connect_nats, stream_name, stream_subject

HOUR_S = 3600


def wanted_streams(replicas: int, devices_max_age_s: float) -> list[api.StreamConfig]:
    streams = [
        api.StreamConfig(
            name=stream_name(producer),
            subjects=[stream_subject(producer)],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW_S,
            num_replicas=replicas,
        )
        for producer in PRODUCERS
    ]
    streams.append(
        api.StreamConfig(
            name="DEVICES",
            subjects=["devices.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            max_age=devices_max_age_s,
            num_replicas=replicas,
        )
    )
    return streams


async def ensure(url: str, replicas: int, devices_max_age_s: float) -> None:
    nc = await connect_nats(url, name="nats-streams-job")
    js = nc.jetstream()
    try:
        for wanted in wanted_streams(replicas, devices_max_age_s):
            try:
                info = await js.stream_info(wanted.name or "")
            except NotFoundError:
                await js.add_stream(wanted)
                print(f"created {wanted.name} replicas={replicas}", flush=True)
                continue
            current = info.config
            if current.num_replicas != replicas or sorted(current.subjects or []) != sorted(wanted.subjects or []):
                current.num_replicas = replicas
                current.subjects = wanted.subjects
                await js.update_stream(current)
                print(f"updated {wanted.name} replicas={replicas}", flush=True)
            else:
                print(f"unchanged {wanted.name} replicas={replicas}", flush=True)
    finally:
        await nc.close()


def main() -> int:
    url = os.environ.get("NATS_URL")
    if not url:
        print("NATS_URL is not set", file=sys.stderr)
        return 2
    replicas = int(os.environ.get("STREAM_REPLICAS", "1"))
    if replicas not in (1, 3, 5):
        print("STREAM_REPLICAS must be 1, 3 or 5", file=sys.stderr)
        return 2
    max_age = float(os.environ.get("DEVICES_MAX_AGE_HOURS", "72")) * HOUR_S
    asyncio.run(asyncio.wait_for(ensure(url, replicas, max_age), timeout=120))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
