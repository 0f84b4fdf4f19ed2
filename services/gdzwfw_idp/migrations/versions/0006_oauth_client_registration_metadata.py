"""oauth_client.registration: client metadata beyond the columns (PAR required, JWKS, FAPI 2.0 profile)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        # Existing rows are rewritten from configuration at every start-up.
        batch_op.add_column(sa.Column('registration', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.drop_column('registration')
