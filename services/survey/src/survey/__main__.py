from renovation_common.app import serve
from survey.config import Settings

if __name__ == "__main__":
    serve("survey.entrypoints.app:create_app", Settings)
