from renovation_common.migrations import run_env
from smart_community.adapters.orm import metadata

run_env(metadata)
