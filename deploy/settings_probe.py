"""Build each service's real ``<package>.config.Settings`` from exactly the environment a deployment gives it.

Run by deploy/validate.py in a subprocess (its own working directory, so no stray ``.env`` is read):

    python deploy/settings_probe.py results.json < cases.json

Input: a JSON list of ``{"id": str, "package": str, "env": {name: value}, "app": bool}``. For each case the
process environment is replaced by ``env`` alone, then ``Settings()`` is built the way ``python -m <package>``
builds it at start (so every production check that the settings classes make, now or later, runs here). With
``"app": true`` the service's FastAPI app is created from that environment too (no lifespan: nothing connects)
and its Swagger UI page and OpenAPI document are fetched, to show where they point.

Output: a JSON list of ``{"id", "ok", "errors", "settings", "docs"}``. Errors carry pydantic's location and
message only, never the input values (they may hold secrets). ``settings`` holds the fields the validation
reasons about (no secret values: only whether each secret-like field is set, and the length and first character
class of every password inside a URL setting).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import sys
from typing import Any
from urllib.parse import urlsplit

SECRET_FIELD = re.compile(r"secret|password|passwd|token|credential|private_key|seed|nkey|(^|_)keys?$", re.I)


def describe(settings: Any) -> dict[str, Any]:
    fields = type(settings).model_fields
    db = urlsplit(settings.database_url)
    overflow = settings.db_max_overflow if settings.db_max_overflow is not None else settings.db_pool_size
    return {
        "environment": str(getattr(settings.environment, "value", settings.environment)),
        "root_path": settings.root_path,
        "host": settings.host,
        "port": settings.port,
        "db_host": db.hostname,
        "db_port": db.port or 5432,
        "db_name": db.path.lstrip("/"),
        "db_pool_size": settings.db_pool_size,
        "db_max_overflow": overflow,
        "db_transaction_pooler": bool(getattr(settings, "db_transaction_pooler", False)),
        "secret_fields": {name: bool(getattr(settings, name, None)) for name in fields if SECRET_FIELD.search(name)},
        "url_passwords": url_passwords(settings),
        "env_prefix": (type(settings).model_config.get("env_prefix") or "").upper(),
    }


def url_passwords(settings: Any) -> dict[str, dict[str, Any]]:
    """Every setting holding a URL with a password (``nats://user:pw@host``, also inside a SecretStr or a
    comma-separated server list): its scheme, the password's length in bytes and whether it starts with a letter.
    Never the password itself."""
    out: dict[str, dict[str, Any]] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if not isinstance(value, str) or "://" not in value:
            continue
        for i, server in enumerate(value.split(",")):
            try:
                parts = urlsplit(server.strip())
                password = parts.password
            except ValueError:
                continue
            if password is None:
                continue
            key = name if i == 0 else f"{name}[{i}]"
            out[key] = {
                "scheme": parts.scheme,
                "bytes": len(password.encode()),
                "letter_first": password[:1].isalpha(),
            }
    return out


async def fetch_docs(package: str) -> dict[str, Any]:
    import httpx

    app_module = importlib.import_module(f"{package}.entrypoints.app")
    app = app_module.create_app()
    transport = httpx.ASGITransport(app=app)  # no lifespan: no database, no broker
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        docs = await client.get("/docs")
        spec = await client.get("/openapi.json")
    match = re.search(r"url:\s*'([^']+)'", docs.text)
    servers = spec.json().get("servers", []) if spec.status_code == 200 else []
    return {
        "docs_status": docs.status_code,
        "openapi_url": match.group(1) if match else None,
        "openapi_status": spec.status_code,
        "servers": [s.get("url") for s in servers],
    }


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    from pydantic import ValidationError

    os.environ.clear()
    os.environ.update(case["env"])
    out: dict[str, Any] = {"id": case["id"], "ok": False, "errors": [], "settings": None, "docs": None}
    try:
        settings_cls = importlib.import_module(f"{case['package']}.config").Settings
        settings = settings_cls()
    except ValidationError as exc:
        out["errors"] = [
            f"{'.'.join(map(str, e.get('loc', ()))) or 'settings'}: {e.get('msg', '')}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        return out
    except Exception as exc:  # a crash in a settings class is a refusal too
        out["errors"] = [f"{type(exc).__name__}: {str(exc)[:300]}"]
        return out
    out["ok"] = True
    out["settings"] = describe(settings)
    if case.get("app"):
        try:
            out["docs"] = asyncio.run(fetch_docs(case["package"]))
        except Exception as exc:
            out["docs"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return out


def main() -> int:
    cases = json.load(sys.stdin)
    saved = dict(os.environ)
    results = []
    for case in cases:
        results.append(run_case(case))
    os.environ.clear()
    os.environ.update(saved)
    with open(sys.argv[1], "w") as out:  # not stdout: an app may print while it is created
        json.dump(results, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
