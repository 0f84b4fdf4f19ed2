from alembic import context

from services.gdzwfw_idp.models import metadata
from shared.migrations import run_env

run_env(context, metadata)
