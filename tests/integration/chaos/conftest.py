from tests.integration.e2e.conftest import make_user, queue  # noqa: F401
