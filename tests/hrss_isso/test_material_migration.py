"""Revision 0008 moves the materials a running service kept in its upload
directory into the database, so that every replica serves them."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from devtools.stack import ROOT, database_urls, drop_databases
from services.hrss_isso.models import MaterialContent
from shared.migrations import alembic_config
from tests.conftest import TEST_DATABASE_URL
from tests.hrss_isso.flows import PDF, PNG

NOW = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    urls = database_urls(base_url=TEST_DATABASE_URL, var_dir=tmp_path, suffix=f"_materials{os.getpid()}", names=("hrss_isso",))
    yield urls["hrss_isso"]
    drop_databases(urls)


def test_files_of_the_upload_directory_move_into_the_database(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = alembic_config(ROOT / "services" / "hrss_isso" / "migrations", database)
    command.upgrade(config, "0007")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "a1b2c3").write_bytes(PDF)
    (uploads / "d4e5f6").write_bytes(PNG)
    engine = create_engine(database)
    with engine.begin() as conn:  # as the previous release left them: two files, one lost
        conn.execute(
            text(
                "INSERT INTO person (id, login_name, password_hash, name, id_type, id_number, mobile, realname_level,"
                " realname_method, status, created_at, login_generation)"
                " VALUES ('p1', 'chenxiao', 'x', '陈晓', '居民身份证', '440106199007150041', '13800138001', 2, 'x', 'active', :now, 0)"
            ),
            {"now": NOW},
        )
        for material_id, storage_name in (("m1", "a1b2c3"), ("m2", "d4e5f6"), ("m3", "0lost0")):
            conn.execute(
                text(
                    "INSERT INTO material (id, batch_id, kind, original_name, content_type, size, sha256, storage_name,"
                    " uploaded_by, created_at) VALUES (:id, 'b1', 'licence', 'x.pdf', 'application/pdf', 1, 'x', :name, 'p1', :now)"
                ),
                {"id": material_id, "name": storage_name, "now": NOW},
            )
    monkeypatch.setenv("ISSO_UPLOAD_DIR", str(uploads))

    command.upgrade(config, "head")

    with engine.connect() as conn:
        stored = dict(conn.execute(select(MaterialContent.material_id, MaterialContent.data)).all())
        columns = {c["name"] for c in inspect(conn).get_columns("material")}
    engine.dispose()
    assert stored == {"m1": PDF, "m2": PNG}
    assert "storage_name" not in columns
    assert "1 material file(s) not found" in caplog.text
    assert (uploads / "a1b2c3").read_bytes() == PDF  # left for the operator to delete after checking
