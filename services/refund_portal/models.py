"""refund_portal storage. Refund records arrive with the refund business;
for now the portal keeps its sessions and introspection cache here."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import new_metadata
from shared.kvstore import define_kv_table

__all__ = ["Base", "metadata", "kv_table"]

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


kv_table = define_kv_table(metadata)
