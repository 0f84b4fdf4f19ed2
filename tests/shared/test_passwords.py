"""argon2id hashing and the rehash after a login (shared/passwords.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Database
from shared.passwords import PasswordService, rehash_after_login

OLD = PasswordService(time_cost=1, memory_cost=8192)  # parameters of an earlier release
CURRENT = PasswordService()


class Base(DeclarativeBase):
    pass


class Login(Base):
    __tablename__ = "login"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def _stored(db: Database) -> str:
    with db.transaction() as s:
        return s.execute(select(Login.password_hash)).scalar_one()


def test_an_outdated_hash_is_stored_again_under_the_current_parameters(db: Database) -> None:
    old_hash = OLD.hash("Old@pass2026")
    with db.transaction() as s:
        s.add(Login(id="a", password_hash=old_hash))
    assert rehash_after_login(db, CURRENT, Login, account_id="a", checked_hash=old_hash, password="Old@pass2026")
    stored = _stored(db)
    assert stored != old_hash and not CURRENT.needs_rehash(stored) and CURRENT.verify(stored, "Old@pass2026")


def test_a_password_changed_meanwhile_is_not_brought_back(db: Database) -> None:
    old_hash = OLD.hash("Old@pass2026")
    with db.transaction() as s:
        s.add(Login(id="a", password_hash=old_hash))
    # The login checked old_hash; before it rehashes, the password is changed.
    changed = CURRENT.hash("New@pass2026")
    with db.transaction() as s:
        s.get(Login, "a").password_hash = changed
    assert not rehash_after_login(db, CURRENT, Login, account_id="a", checked_hash=old_hash, password="Old@pass2026")
    assert _stored(db) == changed and not CURRENT.verify(_stored(db), "Old@pass2026")


def test_a_current_hash_is_left_alone(db: Database) -> None:
    current = CURRENT.hash("Cur@pass2026")
    with db.transaction() as s:
        s.add(Login(id="a", password_hash=current))
    assert not rehash_after_login(db, CURRENT, Login, account_id="a", checked_hash=current, password="Cur@pass2026")
    assert _stored(db) == current
