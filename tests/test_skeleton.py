"""The conventions of docs/architecture.md ("The skeleton of a service", "One way to do each common thing") that
import-linter cannot see, checked on the source text of every service. A failure names the file and the rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "survey": ROOT / "services/survey/src/survey",
    "projects": ROOT / "services/projects/src/projects",
    "finance": ROOT / "services/finance/src/finance",
    "smart-community": ROOT / "services/smart-community/src/smart_community",
    "webhooks": ROOT / "services/webhooks/src/webhooks",
}
SKELETON = (
    "config.py",
    "domain",
    "service_layer",
    "adapters/orm.py",
    "adapters/repositories/__init__.py",
    "entrypoints/app.py",
    "entrypoints/api",
    "entrypoints/consumers.py",
)
MAX_LINES = 800  # a longer module holds more than one responsibility: split it (issue 17)


def sources(*parts: str) -> list[Path]:
    files = [f for pkg in PACKAGES.values() for f in pkg.rglob("*.py")]
    return [f for f in files if all(p in f.as_posix() for p in parts)]


def offenders(files: list[Path], pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [
        f"{f.relative_to(ROOT)}:{n}: {line.strip()}"
        for f in files
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if rx.search(line) and not line.lstrip().startswith("#")
    ]


@pytest.mark.parametrize("service", sorted(PACKAGES))
def test_every_service_has_the_same_skeleton(service: str) -> None:
    missing = [p for p in SKELETON if not (PACKAGES[service] / p).exists()]
    assert not missing, f"{service} lacks {missing} (docs/architecture.md, the skeleton of a service)"
    assert not (PACKAGES[service] / "adapters/repository.py").exists(), "one repository module per aggregate"


def test_reads_never_detach_rows_by_hand() -> None:
    """A read runs in ``runtime.read()`` (``db.ReadOnlyUnitOfWork``), which detaches what it returns."""
    assert not offenders(sources(), r"\.expunge_all\("), "use the read-only unit of work"


def test_no_loop_of_its_own() -> None:
    """Periodic jobs and loops are ``workers.PeriodicJob`` / ``workers.WorkLoop``; stream consumers
    ``ConsumerRunner``: no service sleeps in a loop of its own."""
    assert not offenders(sources(), r"asyncio\.sleep\("), "use renovation_common.workers"


def test_one_clock() -> None:
    """Now comes from ``runtime.clock`` (passed into use cases), never from the wall clock inline."""
    assert not offenders(sources(), r"datetime\.(now|utcnow)\(|\butcnow\(\)"), "take now from the runtime's clock"


def test_routes_only_translate() -> None:
    """A route never commits, opens a session or writes SQL: the use case does."""
    found = offenders(sources("/entrypoints/api/"), r"\.commit\(\)|AsyncSession|sessionmaker|sqlalchemy|\bsa\.")
    assert not found, "\n".join(found)


def test_one_spelling_of_the_role_dependency() -> None:
    """Routes admit roles one way: ``principal: Annotated[Principal, authorize(*ROLES)]``."""
    found = offenders(sources(), r"require_roles\(|Depends\(current_principal\)")
    assert not found, "use renovation_common.auth.authorize:\n" + "\n".join(found)


def test_no_development_stack_in_production_code() -> None:
    assert not offenders(sources(), r"renovation_common\.devstack"), "devstack is for make run / make test only"


def test_files_hold_one_thing() -> None:
    files = sources() + list((ROOT / "libs/common/src/renovation_common").rglob("*.py"))
    long = {
        str(f.relative_to(ROOT)): n for f in files if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines, split by responsibility: {long}"
