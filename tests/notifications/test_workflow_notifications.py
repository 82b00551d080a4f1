import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notifications.models import Kind, Notification
from notifications.services import set_preferences
from project.realtime.models import Event
from workflows import services

pytestmark = pytest.mark.django_db(transaction=True)  # notifications follow the commit


def received(user, kind):
    return list(Notification.objects.filter(recipient=user, kind=kind))


def test_a_message_rings_no_bell_but_a_mention_notifies_whom_it_names(workflow, alice, bob, carol, mallory, access):
    services.post_message(access(bob, workflow.pk), "Draft is ready")
    assert not Notification.objects.filter(kind=Kind.WORKFLOW_MENTION).exists()
    # Unread counts come from read cursors (tests/workflows/test_read_state.py), not bells.
    message = services.post_message(access(bob, workflow.pk), "@**Alice** can you review? @**mallory@evil.example** too")
    [notification] = received(alice, Kind.WORKFLOW_MENTION)
    assert notification.title == "Bob mentioned you in “Launch plan”"
    assert notification.body == "@**Alice** can you review? @**mallory@evil.example** too"
    assert notification.link == f"/workflows/{workflow.pk}/"
    assert notification.payload == {"workflow_id": workflow.pk, "by": bob.email, "message_id": str(message.pk)}
    assert Event.objects.filter(group=f"user.{alice.pk}", type="notification.created").exists()
    # mallory cannot see the workflow: naming her notifies nobody and tells her nothing.
    assert received(carol, Kind.WORKFLOW_MENTION) == [] and received(mallory, Kind.WORKFLOW_MENTION) == []
    assert not Event.objects.filter(group=f"user.{mallory.pk}").exists()


def test_a_mention_by_email_and_of_oneself(workflow, alice, bob, carol, access):
    services.post_message(access(bob, workflow.pk), "@**CAROL@example.com** and @**Bob**")
    assert len(received(carol, Kind.WORKFLOW_MENTION)) == 1
    assert received(bob, Kind.WORKFLOW_MENTION) == []


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


def test_a_participant_who_turned_mentions_off_gets_none(workflow, alice, bob, carol, access):
    set_preferences(carol, {Kind.WORKFLOW_MENTION: False})
    services.post_message(access(bob, workflow.pk), "@**Carol** @**Alice**")
    assert received(carol, Kind.WORKFLOW_MENTION) == []
    assert len(received(alice, Kind.WORKFLOW_MENTION)) == 1


def test_a_rolled_back_mention_notifies_nobody(workflow, alice, bob, access):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_message(access(bob, workflow.pk), "@**Alice** never sent")
        raise RuntimeError("the request failed after posting")
    assert received(alice, Kind.WORKFLOW_MENTION) == []
