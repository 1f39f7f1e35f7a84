"""Money, counts and ids in finance request bodies are strict: ``"100"`` for ``amount_fen`` is a 422, never 100 fen.

Checked on every route's body model (pydantic core schema), so a field added later without ``Fen``/``Count``/
``StrictId`` fails here.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel

from finance.entrypoints.api import routers
from finance.entrypoints.api.schemas.payments import PaymentCallback


def _walk(schema: Any, path: str, found: list[tuple[str, str, bool]]) -> None:
    if isinstance(schema, dict):
        if schema.get("type") in ("int", "str"):
            found.append((path, schema["type"], bool(schema.get("strict"))))
        for key, value in schema.items():
            _walk(value, f"{path}.{key}" if key not in ("schema", "type") else path, found)
    elif isinstance(schema, list):
        for item in schema:
            _walk(item, path, found)


def body_models() -> list[type[BaseModel]]:
    models = []
    for route in (r for router in routers for r in router.routes if isinstance(r, APIRoute)):
        if route.body_field is not None:
            models.append(route.body_field.field_info.annotation)
    return [*models, PaymentCallback]  # the callback's body is parsed after its signature is verified


def lax_integers(model: type[BaseModel]) -> list[str]:
    found: list[tuple[str, str, bool]] = []
    _walk(model.__pydantic_core_schema__, model.__name__, found)
    return [path for path, kind, strict in found if kind == "int" and not strict]


def test_the_check_catches_a_lax_integer():
    class Lax(BaseModel):
        amount_fen: int

    assert lax_integers(Lax) and Lax.model_validate_json('{"amount_fen": "100"}').amount_fen == 100


def test_every_integer_in_every_request_body_is_strict():
    models = body_models()
    assert len(models) >= 14, [m.__name__ for m in models]
    ints = 0
    lax = []
    for model in models:
        found: list[tuple[str, str, bool]] = []
        _walk(model.__pydantic_core_schema__, model.__name__, found)
        ints += sum(1 for _, kind, _ in found if kind == "int")
        lax += lax_integers(model)
    assert ints >= 20  # the walk does reach the integer fields (amounts of transfers, plans, receipts ...)
    assert not lax, f"integer fields that would accept '100': {lax}"


def test_ids_in_request_bodies_are_strict_strings():
    lax = []
    for model in body_models():
        found: list[tuple[str, str, bool]] = []
        _walk(model.__pydantic_core_schema__, model.__name__, found)
        lax += [path for path, kind, strict in found if kind == "str" and path.endswith("_id") and not strict]
    assert not lax, lax
