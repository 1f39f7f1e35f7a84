"""Types request bodies share. Money and ids are strict: ``"100"`` for an ``*_fen`` field is a 422, never 100 fen."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

ID = r"^[A-Za-z0-9_.:\-]{1,64}$"

StrictId = Annotated[StrictStr, Field(pattern=ID)]
Fen = StrictInt
Count = StrictInt
