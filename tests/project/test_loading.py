"""project.sql.LoadedWithoutInit: a row loads into the same instance Django's own `from_db`
builds (whole, deferred, through select_related and raw SQL), saves as an update, and a model
with a post_init receiver still gets it."""

import pytest
from django.db import models
from django.db.models.signals import post_init

from project.accounts.models import User
from project.sql import LoadedWithoutInit
from workflows import services
from workflows.access import get_workflow_access
from workflows.models import Message

pytestmark = pytest.mark.django_db


def django_loaded(instance):
    """The same row as Django's own from_db (Model.__init__) loads it."""
    model = type(instance)
    names = [field.attname for field in model._meta.concrete_fields]
    return models.Model.from_db.__func__(model, "default", names, [instance.__dict__[name] for name in names])


def fields_of(instance) -> dict:
    """The loaded columns (not _state, nor User's own `_active_in_db`: see the first test)."""
    return {key: value for key, value in instance.__dict__.items() if not key.startswith("_")}


def test_a_loaded_row_is_the_instance_djangos_from_db_builds(alice):
    assert issubclass(User, LoadedWithoutInit) and issubclass(Message, LoadedWithoutInit)
    loaded = User.objects.get(pk=alice.pk)
    assert fields_of(loaded) == fields_of(django_loaded(loaded))
    assert (loaded._state.adding, loaded._state.db) == (False, "default")
    assert loaded._active_in_db is True  # User's own from_db still runs (socket closing on deactivation)


def test_deferred_fields_stay_deferred_and_load_when_read(alice):
    loaded = User.objects.only("email").get(pk=alice.pk)
    assert loaded.get_deferred_fields() >= {"display_name", "password", "date_joined"}
    assert "display_name" not in loaded.__dict__
    assert loaded.display_name == alice.display_name  # one query, as Django's deferred loading does
    assert "display_name" in loaded.__dict__


def test_select_related_and_raw_rows_load_whole(alice, acme):
    workflow = services.create_workflow(acme, alice, "Launch")
    posted = services.post_message(get_workflow_access(alice, workflow.pk), "Hello")
    message = Message.objects.select_related("sender", "media_file").get(pk=posted.pk)
    assert fields_of(message) == fields_of(django_loaded(message))
    assert fields_of(message.sender) == fields_of(django_loaded(message.sender))
    assert message.media_file is None and message.sender.email == alice.email
    raw = User.objects.raw("SELECT * FROM " + User._meta.db_table + " WHERE id = %s", [alice.pk])[0]
    assert fields_of(raw) == fields_of(User.objects.get(pk=alice.pk))


def test_a_loaded_instance_saves_as_an_update(alice):
    loaded = User.objects.get(pk=alice.pk)
    loaded.display_name = "Alicia"
    loaded.save(update_fields=["display_name"])
    assert User.objects.count() == 1 and User.objects.get(pk=alice.pk).display_name == "Alicia"


def test_a_model_with_a_post_init_receiver_is_loaded_by_django(alice):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=User)
    try:
        User.objects.get(pk=alice.pk)
        User.objects.only("email").get(pk=alice.pk)
    finally:
        post_init.disconnect(receiver, sender=User)
    assert seen == [alice.pk, alice.pk]
    User.objects.get(pk=alice.pk)
    assert seen == [alice.pk, alice.pk]
