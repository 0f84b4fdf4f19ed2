"""oauth_token: the refresh-token, code and session indexes hold only the rows with a value

A client-credentials token has none of the three; their NULL entries made
every such insert maintain three more index entries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = (("refresh_token_hash", True), ("authorization_code_id", False), ("sid", False))


def _name(column: str, unique: bool) -> str:
    return f"{'uq' if unique else 'ix'}_oauth_token_{column}"


def upgrade() -> None:
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.drop_constraint('uq_oauth_token_refresh_token_hash', type_='unique')
        batch_op.drop_index('ix_oauth_token_authorization_code_id')
        batch_op.drop_index('ix_oauth_token_sid')
    for column, unique in COLUMNS:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(_name(column, unique), 'oauth_token', [column], unique=unique, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for column, unique in COLUMNS:
        op.drop_index(_name(column, unique), table_name='oauth_token')
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_oauth_token_refresh_token_hash', ['refresh_token_hash'])
        batch_op.create_index('ix_oauth_token_authorization_code_id', ['authorization_code_id'], unique=False)
        batch_op.create_index('ix_oauth_token_sid', ['sid'], unique=False)
