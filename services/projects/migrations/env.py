from projects.adapters.orm import metadata
from renovation_common.migrations import run_env

run_env(metadata)
