from renovation_common.migrations import run_env
from survey.adapters.orm import metadata

run_env(metadata)
