import pytest

from project.accounts import services
from project.accounts.models import User
from project.health.registry import register_check, unregister_check

from ..conftest import PASSWORD

BUILT_IN_CHECKS = {"database", "channel_layer", "cache", "dependencies", "workers"}
#: Checks the apps register in their AppConfig.ready().
APP_CHECKS = {"queue", "subscriptions.spotify", "subscriptions.youtube", "mail", "webhooks"}


@pytest.fixture
def staff(db):
    """An operator: staff, so /health shows them every detail."""
    user = services.register_user("ops@example.com", PASSWORD, display_name="Ops")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    return user


@pytest.fixture
def extra_check():
    """Register a check for one test: `extra_check("name", fn, required=...)`."""
    names = []

    def register(name, fn, required=True):
        names.append(name)
        register_check(name, fn, required=required)

    yield register
    for name in names:
        unregister_check(name)
