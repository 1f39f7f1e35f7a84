"""Container entrypoint for every service image (``SERVICE`` is set at build time).

entrypoint.py serve         run the service (default); listens on 0.0.0.0 unless <PREFIX>HOST says otherwise
entrypoint.py migrate       create the service's database if missing and apply its Alembic chain (DATABASE_URL)
entrypoint.py healthcheck   exit 0 when GET /healthz on the local port answers 200 (Docker HEALTHCHECK)
entrypoint.py wait-migrated wait until the service's database is at this image's Alembic head (Kubernetes init
                            container: pods of a new version start only after its migration Job has finished)
"""

from __future__ import annotations

import asyncio
import os
import runpy
import sys
import time
import urllib.request

from renovation_common.devstack import SERVICES, ServiceInfo
from renovation_common.devstack import main as devstack_main


def service() -> ServiceInfo:
    name = os.environ.get("SERVICE", "")
    for svc in SERVICES:
        if name in (svc.name, svc.package):
            return svc
    sys.exit(f"SERVICE={name!r} is not one of {', '.join(s.name for s in SERVICES)}")


def port(svc: ServiceInfo) -> int:
    return int(os.environ.get(f"{svc.env_prefix}PORT") or os.environ.get("PORT") or svc.port)


def serve(svc: ServiceInfo) -> int:
    os.environ.setdefault(f"{svc.env_prefix}HOST", "0.0.0.0")
    os.environ.setdefault(f"{svc.env_prefix}PORT", str(port(svc)))
    sys.argv = [svc.package]
    runpy.run_module(svc.package, run_name="__main__", alter_sys=True)
    return 0


def healthcheck(svc: ServiceInfo) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port(svc)}/healthz", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


def _head_revisions(svc: ServiceInfo) -> set[str]:
    from alembic.script import ScriptDirectory

    from renovation_common.migrations import alembic_config

    return set(ScriptDirectory.from_config(alembic_config(svc.directory, "postgresql://unused/x")).get_heads())


async def _current_revisions(url: str) -> set[str]:
    import asyncpg

    # no statement cache: in Kubernetes this goes through PgBouncer in transaction mode, where a named prepared
    # statement may not be there for the next round trip
    conn = await asyncpg.connect(url, timeout=5, statement_cache_size=0)
    try:
        rows = await conn.fetch("select version_num from alembic_version")
    finally:
        await conn.close()
    return {r["version_num"] for r in rows}


def wait_migrated(svc: ServiceInfo) -> int:
    from renovation_common.settings import database_url_for

    server = os.environ.get(f"{svc.env_prefix}DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not server:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    url = database_url_for(server, svc.database).replace("postgresql+asyncpg://", "postgresql://", 1)
    heads = _head_revisions(svc)
    deadline = time.monotonic() + float(os.environ.get("MIGRATION_WAIT_TIMEOUT_S", "900"))
    current: set[str] = set()
    while time.monotonic() < deadline:
        try:
            current = asyncio.run(_current_revisions(url))
        except Exception as exc:  # database not there yet, table not created yet, server restarting
            print(f"waiting for {svc.database} migrations: {type(exc).__name__}", flush=True)
        else:
            if heads <= current:
                print(f"{svc.database} is at head {sorted(heads)}", flush=True)
                return 0
            print(f"waiting for {svc.database} migrations: at {sorted(current)}, want {sorted(heads)}", flush=True)
        time.sleep(3)
    print(f"{svc.database} not at head {sorted(heads)} (at {sorted(current)}) before the timeout", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "serve"
    svc = service()
    if command == "serve":
        return serve(svc)
    if command == "migrate":
        return devstack_main(["migrate", "--service", svc.name])
    if command == "healthcheck":
        return healthcheck(svc)
    if command == "wait-migrated":
        return wait_migrated(svc)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
