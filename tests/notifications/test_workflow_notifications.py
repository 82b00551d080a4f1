import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notifications.models import Kind, Notification
from notifications.services import set_preferences
from project.realtime.models import Event
from workflows import services

pytestmark = pytest.mark.django_db(transaction=True)  # notifications follow the commit


def received(user, kind):
    return list(Notification.objects.filter(recipient=user, kind=kind))


def test_a_message_notifies_every_other_participant_not_the_sender(workflow, alice, bob, carol, mallory, access):
    message = services.post_message(access(bob, workflow.pk), "Draft is ready")
    assert received(bob, Kind.WORKFLOW_MESSAGE) == []
    assert received(mallory, Kind.WORKFLOW_MESSAGE) == []
    for user in (alice, carol):
        [notification] = received(user, Kind.WORKFLOW_MESSAGE)
        assert notification.title == "Bob in “Launch plan”"
        assert notification.body == "Draft is ready"
        assert notification.link == f"/workflows/{workflow.pk}/"
        assert notification.tenant_id == workflow.tenant_id
        assert notification.payload == {"workflow_id": workflow.pk, "by": bob.email, "message_id": str(message.pk)}
        assert Event.objects.filter(group=f"user.{user.pk}", type="notification.created").exists()


def test_being_added_notifies_only_the_new_participant(acme, alice, bob, carol, access):
    workflow = services.create_workflow(acme, alice, "Solo")
    services.add_participant(access(alice, workflow.pk), bob.email, "viewer")
    [notification] = received(bob, Kind.WORKFLOW_PARTICIPANT_ADDED)
    assert notification.title == "Alice added you to “Solo”"
    assert notification.payload["role"] == "viewer"
    assert received(alice, Kind.WORKFLOW_PARTICIPANT_ADDED) == []
    assert received(carol, Kind.WORKFLOW_PARTICIPANT_ADDED) == []


def test_participants_named_at_creation_are_told_they_were_added(workflow, alice, bob, carol):
    assert [n.title for n in received(bob, Kind.WORKFLOW_PARTICIPANT_ADDED)] == ["Alice added you to “Launch plan”"]
    assert len(received(carol, Kind.WORKFLOW_PARTICIPANT_ADDED)) == 1
    assert received(alice, Kind.WORKFLOW_PARTICIPANT_ADDED) == []


def test_completing_notifies_all_participants_but_the_one_who_completed(workflow, alice, bob, carol, access):
    services.set_status(access(alice, workflow.pk), "completed")
    assert received(alice, Kind.WORKFLOW_COMPLETED) == []
    assert [n.title for n in received(bob, Kind.WORKFLOW_COMPLETED)] == ["Alice completed “Launch plan”"]
    assert len(received(carol, Kind.WORKFLOW_COMPLETED)) == 1


def test_deleting_notifies_all_participants_and_links_to_the_list(workflow, alice, bob, carol, access):
    services.delete_workflow(access(alice, workflow.pk))
    for user in (bob, carol):
        [notification] = received(user, Kind.WORKFLOW_DELETED)
        assert notification.link == "/workflows/"
    assert received(alice, Kind.WORKFLOW_DELETED) == []


def test_a_participant_who_muted_messages_gets_none(workflow, alice, bob, carol, access):
    set_preferences(carol, {Kind.WORKFLOW_MESSAGE: False})
    services.post_message(access(bob, workflow.pk), "Hello")
    assert received(carol, Kind.WORKFLOW_MESSAGE) == []
    assert len(received(alice, Kind.WORKFLOW_MESSAGE)) == 1


def test_a_shared_file_notifies_like_a_message(workflow, alice, bob, access):
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    services.share_file(access(bob, workflow.pk), upload)
    [notification] = received(alice, Kind.WORKFLOW_MESSAGE)
    assert notification.body == "Shared a file: notes.txt"


def test_a_rolled_back_message_notifies_nobody(workflow, alice, bob, access):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_message(access(bob, workflow.pk), "Never sent")
        raise RuntimeError("the request failed after posting")
    assert received(alice, Kind.WORKFLOW_MESSAGE) == []

