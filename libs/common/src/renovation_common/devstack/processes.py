"""Process supervision: the five services as child processes, their output prefixed by service name.

``replicas`` > 1 starts each service that many times on the same databases and broker, as production runs them:
replica 1 on the service's port (8001 ...), replica *n* on port + 100 × (n − 1) (8101, 8201 ...); output lines are
prefixed ``survey#2`` and so on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from renovation_common.devstack.catalog import SERVICES, ServiceInfo
from renovation_common.devstack.stack import Stack


def _pump(prefix: str, stream: object, lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            sys.stdout.write(f"{prefix} | {line}\n")
            sys.stdout.flush()


def replica_port(base: int, replica: int) -> int:
    """Replica 1 listens on ``base``, replica n on ``base + 100 × (n − 1)``."""
    return base + 100 * (replica - 1)


def run_services(stack: Stack, services: tuple[ServiceInfo, ...] = SERVICES, *, replicas: int = 1) -> int:
    lock = threading.Lock()
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    width = max(len(s.name) for s in services) + (2 if replicas > 1 else 0)
    base_env = {**os.environ, **stack.env()}
    for svc in services:
        base = int(os.environ.get(f"{svc.env_prefix}PORT", svc.port))
        for replica in range(1, replicas + 1):
            port = replica_port(base, replica)
            label = svc.name if replicas == 1 else f"{svc.name}#{replica}"
            env = {**base_env, f"{svc.env_prefix}PORT": str(port)}
            proc = subprocess.Popen(
                [sys.executable, "-m", svc.package],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs.append((label, proc))
            threading.Thread(target=_pump, args=(label.ljust(width), proc.stdout, lock), daemon=True).start()
            print(f"[devstack] {label} on http://127.0.0.1:{port}  (docs: /docs)", flush=True)

    stop = threading.Event()

    def _signal(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    exit_code = 0
    while not stop.is_set():
        for label, proc in procs:
            if proc.poll() is not None:
                print(f"[devstack] {label} exited with {proc.returncode}; stopping", flush=True)
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
