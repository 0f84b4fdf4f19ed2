"""Database plumbing: engines, transactions, metadata naming convention.

The services run SQLAlchemy's synchronous API because Authlib's server core is
synchronous (polar: "authlib can't await"); async routes hand work to a
thread with :func:`starlette.concurrency.run_in_threadpool`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData, NullPool, create_engine, event, exc, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

T = TypeVar("T")

__all__ = ["NAMING_CONVENTION", "new_metadata", "declarative_base", "make_engine", "Database", "startup_lock"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def declarative_base() -> type[DeclarativeBase]:
    """A service's ORM base, on metadata of its own (each service has its own
    database and migration history) named by :data:`NAMING_CONVENTION`."""

    class Base(DeclarativeBase):
        metadata = new_metadata()

    return Base


def make_engine(url: str, *, pool_size: int = 10, options: str | None = None) -> Engine:
    """``options``: PostgreSQL settings for every connection (libpq ``options``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_immediate_transactions(engine)
        return engine
    # No overflow: request threads are capped to the pool size (build_app),
    # so a burst waits for a pooled connection instead of opening and closing
    # new ones (connection churn cost PostgreSQL more than the queries).
    # pool_recycle bounds a connection's life; liveness is checked only after
    # an idle spell (_ping_when_idle), not with pool_pre_ping at every check-out.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_recycle=POOL_RECYCLE,
        connect_args={"options": options} if options else {},
    )
    _ping_when_idle(engine, PING_AFTER_IDLE)
    return engine


# Seconds after which a pooled connection is replaced, and the idle time after
# which one is pinged before use.
POOL_RECYCLE = 1800
PING_AFTER_IDLE = 5.0


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """Ping a pooled connection before use only if it sat idle ``idle`` seconds.

    pool_pre_ping pings at every check-out: a round trip to the database per
    request, on every request. Connections die while they wait (a database
    restart or fail-over, an idle timeout in PostgreSQL, a proxy or a
    firewall); a connection handed back a moment ago and checked out again
    under load was alive then. So only a connection idle longer than
    ``idle`` is pinged, and a failed ping does what pre-ping does: the pool
    drops every connection older than now and checks out a new one. A
    connection that breaks while busy fails its request under pre-ping too,
    and that error (a disconnect) also empties the pool.
    """
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_conn, record):  # pragma: no cover - pool hook
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):  # pragma: no cover - pool hook
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle:
            return  # just opened, or just used
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                raise exc.InvalidatePoolError() from error
            raise


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock up front.

    SQLite's deferred transactions fail with "database is locked" instead of
    waiting when two of them upgrade from read to write at once; single-use
    credentials (codes, refresh tokens) are exactly that pattern. BEGIN
    IMMEDIATE serialises writers and lets ``timeout`` do the waiting.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - driver hook
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and its session factory; one per service."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self._pool_size = pool_size
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit_sessions = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        self._unflushed: Engine | None = None

    def single_statements(self, *, durable: bool) -> Engine | None:
        """On PostgreSQL, an engine whose connections commit each statement
        on its own (autocommit), for work that is one statement: no BEGIN and
        COMMIT round trips around it. ``durable=False``: its commits do not
        wait for the write-ahead log to reach the disk (``synchronous_commit
        = off``, for short-lived state; see shared.kvstore); that is a second
        pool of the same size, opened on first use and closed by
        :meth:`dispose`. None on SQLite, whose writes keep their transaction
        (BEGIN IMMEDIATE, see :func:`_sqlite_immediate_transactions`)."""
        if self.engine.dialect.name != "postgresql":
            return None
        if durable:
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        if self._unflushed is None:
            self._unflushed = make_engine(self.url, pool_size=self._pool_size, options="-c synchronous_commit=off")
        return self._unflushed.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def detached(self, read: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``read(session, *args, **kwargs)`` in a transaction of its own, its
        result detached from the session: a page rendered after the
        transaction has closed reads the loaded attributes of its rows."""
        with self.transaction() as session:
            result = read(session, *args, **kwargs)
            session.expunge_all()
            return result

    @contextmanager
    def session(self, *, autocommit: bool = False) -> Iterator[Session]:
        """A session the caller commits or rolls back explicitly (protocol
        endpoints decide from the response whether their writes stand).

        ``autocommit=True`` (PostgreSQL): each statement commits on its own,
        with no BEGIN, COMMIT or ROLLBACK round trips around them, for work
        that only reads, or whose one write stands whatever follows. On
        SQLite the session keeps its transaction."""
        autocommit = autocommit and self.engine.dialect.name == "postgresql"
        session = self._autocommit_sessions() if autocommit else self._sessions()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._unflushed is not None:
            self._unflushed.dispose()


@contextmanager
def startup_lock(url: str, name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock named ``name`` while the block runs.

    DESIGN.md: any number of replicas and workers may start at once on an
    empty database, so migrations and start-up writes (signing key, client
    rows, demo data) run one replica at a time; the next one in finds the
    work done. The lock is session-level on a connection of its own, outside
    the service's pool (a pool of one would otherwise wait on itself), in
    autocommit so no transaction idles while the block runs. Advisory locks
    are scoped to the database, so one constant key per ``name`` serves every
    service. On SQLite this does nothing: its writers are serialised anyway
    (BEGIN IMMEDIATE) and its file is never shared between hosts.
    """
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()
