"""keyed audit chain: the HMAC key each entry was signed with

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00.000000

Existing entries keep ``key_id`` NULL: they stay verifiable as the plain
SHA-256 entries they are, and the service seals them at its next start
with a keyed entry chained to the last of them (audit.ensure_head).
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=20), nullable=True))


def downgrade() -> None:
    # Loses which key signed each entry: the older release's verify then
    # reports every keyed entry as a broken SHA-256 entry.
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_column('key_id')
