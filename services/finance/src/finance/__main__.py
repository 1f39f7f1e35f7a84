from finance.config import Settings
from renovation_common.app import serve

if __name__ == "__main__":
    serve("finance.entrypoints.app:create_app", Settings)
