from renovation_common.migrations import run_env
from webhooks.adapters.orm import metadata

run_env(metadata)
