"""Tables of the smart_community database."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from renovation_common.db import define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata
