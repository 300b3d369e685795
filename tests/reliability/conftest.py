from tests.integration.conftest import db, mongo_client, nc  # noqa: F401  (same fixtures, real servers)
