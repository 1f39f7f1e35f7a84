from projects.config import Settings
from renovation_common.app import serve

if __name__ == "__main__":
    serve("projects.entrypoints.app:create_app", Settings)
