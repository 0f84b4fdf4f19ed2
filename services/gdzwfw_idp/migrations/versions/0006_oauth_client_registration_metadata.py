"""oauth_client.registration: client metadata beyond the columns (PAR required, JWKS, FAPI 2.0 profile); oauth_used_jti: client assertion and DPoP proof ids used once; oauth_token.dpop_jkt

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
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))
    op.create_table('oauth_used_jti',
    sa.Column('jti_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti_hash', name=op.f('pk_oauth_used_jti'))
    )
    with op.batch_alter_table('oauth_used_jti', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_used_jti_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('oauth_used_jti')
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')
    with op.batch_alter_table('oauth_client', schema=None) as batch_op:
        batch_op.drop_column('registration')
