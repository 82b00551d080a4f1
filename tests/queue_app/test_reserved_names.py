"""Bots' names are for bots: a human cannot post under QUEUE_BOT_NAME, a persona's name or a bot
user's display name, however it is spelled; bots and staff can."""

import pytest

from project.accounts import services as accounts
from queue_app.models import QueueMessage

from ..conftest import PASSWORD, bearer_client
from .conftest import post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def personas(settings):
    settings.QUEUE_BOT_NAME = "Harbor bot"
    settings.QUEUE_PERSONAS = {"duke": "You are Raoul Duke."}


def refused(response):
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["username"]
    assert not QueueMessage.objects.exists()
    return " ".join(fields["username"])


@pytest.mark.parametrize("name", ["Harbor bot", "harbor BOT", "Harbor-Bot", " HarborBot ", "Ｈａｒｂｏｒ bot", "Harbor\u200bbot"])
def test_a_human_cannot_post_as_the_configured_bot_name(alice_api, name):
    response = alice_api.post("/api/queue/messages", {"text": "hi", "username": name}, format="json")
    assert "is a bot's name; choose another name" in refused(response)


def test_a_human_cannot_post_as_a_persona_or_a_bot_user(alice_api, robot):
    for name in ("Duke", "robot"):
        response = alice_api.post("/api/queue/messages", {"text": "hi", "username": name}, format="json")
        assert f"“{name}” is a bot's name" in refused(response)


def test_a_human_whose_own_name_is_a_bots_must_pick_another(robot):
    namesake = accounts.register_user("another-robot@example.com", PASSWORD, display_name="Robot")
    api = bearer_client(namesake)
    refused(api.post("/api/queue/messages", {"text": "hi"}, format="json"))
    assert post(api, username="Robot the human")["username"] == "Robot the human"


def test_bots_and_staff_may_use_the_bots_names(robot_api, staff_api):
    assert post(robot_api, username="Harbor bot")["username"] == "Harbor bot"
    assert post(staff_api, username="duke")["username"] == "duke"


def test_ordinary_names_are_fine(alice_api, robot):
    assert post(alice_api, username="Harbor fan")["username"] == "Harbor fan"
    assert post(alice_api)["username"] == "Alice"
    assert post(alice_api, username="🙂")["username"] == "🙂"


def test_the_page_shows_the_refusal_on_the_name_field(client, alice):
    client.force_login(alice)
    response = client.post("/queue/", {"text": "Pretending", "username": "Harbor Bot", "priority": 0})
    page = response.content.decode()
    assert response.status_code == 400
    assert "“Harbor Bot” is a bot&#x27;s name; choose another name to post under." in page
    assert '<details class="queue-options" open>' in page  # the name field is not hidden away
    assert not QueueMessage.objects.exists()
