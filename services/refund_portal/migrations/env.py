from alembic import context

from services.refund_portal.models import metadata
from shared.migrations import run_env

run_env(context, metadata)
