import pytest

from .conftest import BUILT_IN_CHECKS

pytestmark = pytest.mark.django_db


def test_staff_see_every_check_and_the_page_refreshes_itself(client, staff):
    client.force_login(staff)
    response = client.get("/health/status/")
    assert response.status_code == 200
    html = response.content.decode()
    head = html.split("</head>")[0]
    assert '<meta http-equiv="refresh" content="10">' in head
    for name in BUILT_IN_CHECKS:
        assert f'id="check-{name}"' in html
    assert "latency_ms" in html


def test_other_users_are_sent_to_the_admin_login(client, alice):
    response = client.get("/health/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(alice)
    response = client.get("/health/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
