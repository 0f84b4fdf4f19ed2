from alembic import context

from services.hrss_isso.models import metadata
from shared.migrations import run_env

run_env(context, metadata)
