"""staff_account.totp_secret_encrypted: the agency console's second factor (TOTP)

Nullable: staff created before it have none and cannot log in until they are
enrolled (`python -m services.refund_portal.staff enrol-totp --login L`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret_encrypted', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.drop_column('totp_secret_encrypted')
