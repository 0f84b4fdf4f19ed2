"""material_content: uploaded materials in the database, not on one replica's disk

The bytes of each material move from the upload directory (ISSO_UPLOAD_DIR,
by default var/uploads/hrss_isso, where the files were kept under
material.storage_name) into material_content, and the storage_name column
goes. Run it where that directory is readable (the service's own host or
volume); a material whose file is missing is reported and its download then
answers 材料文件不存在. The directory is left as it was: delete it after
checking.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:00:00
"""
import logging
import os
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
MAX_BYTES = 16 * 1024 * 1024  # services.hrss_isso.models.MATERIAL_CONTENT_MAX_BYTES at this revision


def upgrade() -> None:
    bind = op.get_bind()
    kept = bind.execute(sa.text('SELECT id, storage_name FROM material')).all()
    # The column goes first: on SQLite the batch recreates the material table,
    # and dropping the old one would cascade to rows already referring to it.
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_material_storage_name'), type_='unique')
        batch_op.drop_column('storage_name')
    content = op.create_table('material_content',
    sa.Column('material_id', sa.String(length=32), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint(f'length(data) <= {MAX_BYTES}', name=op.f('ck_material_content_size_cap')),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_material_content_material_id_material'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('material_id', name=op.f('pk_material_content'))
    )
    directory = Path(os.environ.get('ISSO_UPLOAD_DIR') or 'var/uploads/hrss_isso')
    missing = 0
    for material_id, storage_name in kept:
        path = directory / storage_name
        if storage_name.isalnum() and path.is_file():
            bind.execute(content.insert().values(material_id=material_id, data=path.read_bytes()))
        else:
            missing += 1
    if missing:
        log.warning("%d material file(s) not found under %s: their downloads will say 材料文件不存在", missing, directory)


def downgrade() -> None:
    # The bytes stay in no file: an older version finds its materials missing.
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_name', sa.String(length=80), nullable=True))
    op.execute('UPDATE material SET storage_name = id')
    op.drop_table('material_content')
