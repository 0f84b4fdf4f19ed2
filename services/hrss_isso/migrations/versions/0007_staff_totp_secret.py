"""staff.totp_secret_encrypted: the agency console's second factor (TOTP)

Nullable: staff created before it have none and cannot log in until an
operator enrols them (`python -m services.hrss_isso.manage enrol-staff-totp`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret_encrypted', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('totp_secret_encrypted')
