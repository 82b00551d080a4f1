import pytest
from django.db import DatabaseError, connection, transaction

from workflows import services
from workflows.access import get_workflow_access
from workflows.models import AppendOnlyError, HistoryEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(acme, alice):
    return services.create_workflow(acme, alice, "Quarterly review")


def access(user, workflow):
    return get_workflow_access(user, workflow.pk)


def test_every_service_call_appends_one_history_row_with_a_snapshot(workflow, alice, bob):
    services.add_participant(access(alice, workflow), bob.email, "viewer")
    services.update_workflow(access(alice, workflow), "Quarterly review (final)")
    services.set_status(access(alice, workflow), "completed")
    services.set_status(access(alice, workflow), "active")
    services.set_status(access(alice, workflow), "cancelled")
    services.remove_participant(access(alice, workflow), bob.email)
    services.delete_workflow(access(alice, workflow))

    rows = list(HistoryEvent.objects.filter(workflow=workflow).order_by("id"))
    assert [r.event_type for r in rows] == [
        "created",
        "participant_added",
        "updated",
        "completed",
        "reopened",
        "cancelled",
        "participant_removed",
        "deleted",
    ]
    assert {r.performed_by for r in rows} == {alice}
    assert rows[0].title == "Quarterly review" and rows[2].title == "Quarterly review (final)"
    assert rows[3].status == "completed" and rows[3].completed_at is not None
    assert rows[4].status == "active" and rows[4].completed_at is None
    assert rows[7].deleted_at is not None
    assert rows[1].details == {"email": "bob@example.com", "role": "viewer"}
    assert {r.tenant_id_snapshot for r in rows} == {workflow.tenant_id}


def test_history_refuses_updates_and_deletes_through_the_orm(workflow):
    row = HistoryEvent.objects.get(workflow=workflow)
    row.title = "rewritten"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        HistoryEvent.objects.filter(pk=row.pk).update(title="rewritten")
    with pytest.raises(AppendOnlyError):
        HistoryEvent.objects.all().delete()
    assert HistoryEvent.objects.get(pk=row.pk).title == "Quarterly review"


def test_the_database_itself_refuses_an_update(workflow):
    row = HistoryEvent.objects.get(workflow=workflow)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE workflows_historyevent SET title = %s WHERE id = %s", ["rewritten", row.pk])
    assert HistoryEvent.objects.get(pk=row.pk).title == "Quarterly review"


def test_a_failed_write_leaves_neither_history_nor_events(workflow, alice, mallory):
    from django.core.exceptions import ValidationError

    from project.realtime.models import Event

    before = (HistoryEvent.objects.count(), Event.objects.count())
    with pytest.raises(ValidationError):
        services.add_participant(access(alice, workflow), mallory.email)  # not in the tenant
    assert (HistoryEvent.objects.count(), Event.objects.count()) == before


def test_participants_must_belong_to_the_tenant(acme, alice, mallory):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.create_workflow(acme, alice, "Secret", [(mallory.email, "editor")])
    assert "email" in error.value.message_dict
    assert not acme.workflows.exists()


def test_admin_shows_history_read_only(client, django_user_model, workflow):
    admin_user = django_user_model.objects.create_superuser("root@example.com", "admin-pass-123")
    client.force_login(admin_user)
    row = HistoryEvent.objects.get(workflow=workflow)
    page = client.get(f"/admin/workflows/historyevent/{row.pk}/change/")
    assert page.status_code == 200
    assert b'name="title"' not in page.content  # shown, not editable
    assert client.post(f"/admin/workflows/historyevent/{row.pk}/delete/").status_code == 403
    listing = client.get("/admin/workflows/workflow/?q=alice@example.com")
    assert b"Quarterly review" in listing.content
