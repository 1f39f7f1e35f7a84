from renovation_common.app import serve
from smart_community.config import Settings

if __name__ == "__main__":
    serve("smart_community.entrypoints.app:create_app", Settings)
