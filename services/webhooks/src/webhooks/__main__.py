from renovation_common.app import serve
from webhooks.config import Settings

if __name__ == "__main__":
    serve("webhooks.entrypoints.app:create_app", Settings)
