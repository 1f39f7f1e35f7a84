"""The command line: ``python -m renovation_common.devstack run|up|test|token|migrate`` (``make run`` ...)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading

from renovation_common.devstack.catalog import ROOT, SERVICES
from renovation_common.devstack.processes import run_services
from renovation_common.devstack.stack import Stack, migrate_all, redact_url


def _cmd_run(args: argparse.Namespace) -> int:
    stack = Stack(ROOT / ".data" / "run")
    stack.start()
    try:
        print(f"[devstack] postgres {stack.database_url}", flush=True)
        mqtt = f"{stack.broker_env.get('MQTT_URL', stack.mqtt_port)} (CA {stack.broker_env.get('MQTT_CA_FILE', '-')})"
        print(f"[devstack] nats {redact_url(stack.nats_url)} · mqtt over TLS {mqtt}", flush=True)
        migrate_all(stack.database_url)
        return run_services(stack, replicas=args.replicas)
    finally:
        stack.stop()
        print("[devstack] stopped", flush=True)


def _cmd_test(args: argparse.Namespace) -> int:
    data = ROOT / ".data" / "test"
    if data.exists():
        shutil.rmtree(data, ignore_errors=True)
    stack = Stack(data, fast=True)
    stack.start()
    try:
        print(f"[devstack] test postgres {stack.database_url} · nats {redact_url(stack.nats_url)}", flush=True)
        migrate_all(stack.database_url)  # proves every chain applies to an empty database
        env = {**os.environ, **stack.env(), "ENVIRONMENT": "test"}
        pytest_args = [a for a in args.pytest_args if a != "--"]
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], env=env, cwd=ROOT)
    finally:
        stack.stop()


def _cmd_token(args: argparse.Namespace) -> int:
    from renovation_common.auth import issue_dev_token
    from renovation_common.settings import DEV_JWT_SECRET

    print(
        issue_dev_token(
            secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET,
            role=args.role,
            sub=args.sub,
            ttl_s=args.ttl,
            district_id=args.district,
            street_id=args.street,
            community_id=args.community,
            household_id=args.household,
        )
    )
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    """Create the databases and apply migrations on ``DATABASE_URL`` (containers: one migration job per service)."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    chosen = tuple(s for s in SERVICES if not args.service or args.service in (s.name, s.package))
    if not chosen:
        print(f"unknown service {args.service}", file=sys.stderr)
        return 2
    migrate_all(server, chosen)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    """Start only Postgres and NATS (for running one service by hand); prints the environment."""
    stack = Stack(ROOT / ".data" / "run")
    stack.start()
    try:
        migrate_all(stack.database_url)
        for k, v in stack.env().items():
            print(f"export {k}={v}", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="Postgres + NATS + migrations + all services")
    run.add_argument("--replicas", type=int, default=int(os.environ.get("REPLICAS") or 1), choices=range(1, 6))
    run.set_defaults(fn=_cmd_run)
    sub.add_parser("up", help="Postgres + NATS + migrations only").set_defaults(fn=_cmd_up)
    migrate = sub.add_parser("migrate", help="create databases and apply migrations on DATABASE_URL")
    migrate.add_argument("--service", default=None)
    migrate.set_defaults(fn=_cmd_migrate)
    test = sub.add_parser("test", help="isolated stack, then pytest")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(fn=_cmd_test)
    token = sub.add_parser("token", help="print a development JWT")
    token.add_argument("--role", required=True)
    token.add_argument("--sub", default="dev-user")
    token.add_argument("--district", default=None)
    token.add_argument("--street", default=None)
    token.add_argument("--community", default=None)
    token.add_argument("--household", default=None)
    token.add_argument("--ttl", type=int, default=12 * 3600)
    token.set_defaults(fn=_cmd_token)
    args = parser.parse_args(argv)
    return int(args.fn(args))
