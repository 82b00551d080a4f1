"""A workflow's messages are paged by SQL written once (project.sql.IdPages): every page the
cursor pagination can ask for is the page of the view's own queryset, message for message as the
caller reads it (senders, shared files, deleted messages, a sender who left)."""

import base64
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from project.accounts.models import User
from workflows import services
from workflows.api import MESSAGE_PAGES
from workflows.serializers import MessageSerializer

from ..conftest import TINY_PNG
from .conftest import access, acme_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def messages(workflow, erin, acme, alice, bob):
    """Eight messages of every kind: text, a shared file, a deleted one, one whose sender is gone."""
    leaver = acme_member(acme, alice, "leaver@example.com")
    services.add_participant(access(bob, workflow), leaver.email, "editor")
    posted = [services.post_message(access(erin, workflow), f"Message {n}") for n in range(3)]
    posted.append(services.share_file(access(erin, workflow), SimpleUploadedFile("a.png", TINY_PNG, "image/png")))
    posted.append(services.post_message(access(leaver, workflow), "From someone who leaves"))
    posted += [services.post_message(access(erin, workflow), f"Later {n}") for n in range(3)]
    services.delete_message(access(erin, workflow), posted[1].pk)
    User.objects.filter(pk=leaver.pk).delete()
    return [message.pk for message in posted]


def shown(messages) -> list[dict]:
    return MessageSerializer(messages, many=True).data


@pytest.mark.parametrize("ordering", ["id", "-id"])
@pytest.mark.parametrize("bound", [None, "id__gt", "id__lt"])
@pytest.mark.parametrize("window", [(0, 3), (2, 5), (0, 51)])
def test_every_page_shape_is_the_querysets_page(workflow, messages, ordering, bound, window):
    queryset = workflow.messages.select_related("sender", "media_file").order_by(ordering)
    rows = MESSAGE_PAGES.under(workflow.pk).order_by(ordering)
    if bound:
        queryset, rows = queryset.filter(**{bound: str(messages[4])}), rows.filter(**{bound: str(messages[4])})
    start, stop = window
    expected = list(queryset[start:stop])
    assert expected  # every shape reads some rows
    assert shown(rows[start:stop]) == shown(expected)


def test_the_shapes_carry_what_the_caller_reads(workflow, messages):
    page = shown(MESSAGE_PAGES.under(workflow.pk).order_by("id")[0:51])
    assert [int(m["id"]) for m in page] == messages
    assert page[1]["deleted_at"] is not None and page[1]["content"] == ""
    assert page[3]["file"]["name"] == "a.png" and page[3]["file"]["thumbnail_url"]
    assert page[4]["sender"] is None and page[4]["content"] == "From someone who leaves"


def test_another_workflows_messages_are_not_in_the_list(workflow, messages, acme, erin):
    other = services.create_workflow(acme, erin, "Elsewhere", [])
    services.post_message(access(erin, other), "Not yours")
    assert [m.pk for m in MESSAGE_PAGES.under(workflow.pk).order_by("id")[0:51]] == messages


def test_anything_else_than_a_page_by_id_is_refused(workflow):
    rows = MESSAGE_PAGES.under(workflow.pk)
    for misuse in (lambda: rows.order_by("created_at"), lambda: rows.filter(content="x"),
                   lambda: rows.filter(id__gt=1).filter(id__lt=9), lambda: rows[0:], lambda: rows[3]):
        with pytest.raises(TypeError):
            misuse()


def drf_cursor(**tokens) -> str:
    """A cursor in DRF's own encoding (what `next_cursor` holds), e.g. a reversed one."""
    return base64.b64encode(urlencode(tokens).encode()).decode()


def test_the_api_walks_the_list_and_honours_drfs_own_cursors(api_as, workflow, messages):
    client, seen, cursor = api_as("viewer"), [], None
    while True:
        page = client.get(f"/api/workflows/{workflow.pk}/messages", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [int(m["id"]) for m in page["results"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == messages
    reversed_page = client.get(f"/api/workflows/{workflow.pk}/messages",
                               {"limit": 2, "cursor": drf_cursor(r=1, p=messages[5])}).json()["results"]
    expected = workflow.messages.select_related("sender", "media_file").filter(id__lt=messages[5]).order_by("-id")[:2]
    assert reversed_page == shown(reversed(list(expected)))
