import pytest

from .services import PrivatePostgres, manage


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    manage(server.url, "migrate", "--noinput", "-v0")
    yield server
    server.remove()
