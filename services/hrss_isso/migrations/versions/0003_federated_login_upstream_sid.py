"""federated_login: upstream sid and ended_at (single logout)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('federated_login', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upstream_sid', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_federated_login_upstream_sid'), ['upstream_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_federated_login_sid'), ['sid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('federated_login', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federated_login_sid'))
        batch_op.drop_index(batch_op.f('ix_federated_login_upstream_sid'))
        batch_op.drop_column('ended_at')
        batch_op.drop_column('upstream_sid')
