"""oauth_logout_outbox: back-channel logout notices delivered with retries (shared.oauth.provider.logout_outbox)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:06:46.216664
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_logout_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=100), nullable=False),
    sa.Column('uri', sa.String(length=500), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=True),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_logout_outbox'))
    )
    with op.batch_alter_table('oauth_logout_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_logout_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('oauth_logout_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_logout_outbox_next_attempt_at'))

    op.drop_table('oauth_logout_outbox')
