"""Deleting a workflow removes its shared files from storage; `manage.py purge_deleted_files`
removes what the deletion left (more than one batch, a storage failure, older deletions)."""

import os
from io import StringIO

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from workflows import services
from workflows.models import MediaFile

from ..conftest import TINY_PNG
from .conftest import access

pytestmark = pytest.mark.django_db

PNG = TINY_PNG


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def share(user, workflow, name="plan.png"):
    message = services.share_file(access(user, workflow), SimpleUploadedFile(name, PNG, content_type="image/png"))
    return message.media_file


def stored(media: MediaFile) -> bool:
    media.refresh_from_db()
    return bool(media.file.name) and media.file.storage.exists(media.file.name)


def test_deleting_a_workflow_removes_its_files_from_storage(
    workflow, bob, acme, erin, django_capture_on_commit_callbacks
):
    other = services.create_workflow(acme, bob, "Other plan", [(erin.email, "editor")])
    kept = share(bob, other)
    files = [share(bob, workflow, f"plan-{n}.png") for n in range(3)]
    paths = [media.file.path for media in files]

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_workflow(access(bob, workflow))

    assert not any(stored(media) for media in files)
    assert all(media.file.name == "" for media in files)  # the rows stay for the history
    assert MediaFile.objects.count() == 4
    assert stored(kept)
    assert not any(os.path.exists(path) for path in paths)


def test_a_rolled_back_deletion_keeps_the_files(workflow, bob):
    media = share(bob, workflow)
    # No commit, so no on_commit callback: the deletion might still roll back.
    services.delete_workflow(access(bob, workflow))
    assert stored(media)


def test_the_deletion_removes_one_batch_and_the_command_the_rest(
    workflow, bob, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "PURGE_BATCH_SIZE", 2)
    files = [share(bob, workflow, f"plan-{n}.png") for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_workflow(access(bob, workflow))
    assert sum(stored(media) for media in files) == 3

    out = StringIO()
    call_command("purge_deleted_files", "--batch-size", "2", stdout=out)

    assert out.getvalue().strip() == "removed 3 files of deleted workflows from storage"
    assert not any(stored(media) for media in files)
    out = StringIO()
    call_command("purge_deleted_files", stdout=out)
    assert out.getvalue().strip() == "removed 0 files of deleted workflows from storage"


def test_one_file_storage_refuses_to_delete_does_not_stop_the_others(workflow, bob, monkeypatch, caplog):
    files = [share(bob, workflow, f"plan-{n}.png") for n in range(3)]
    services.delete_workflow(access(bob, workflow))  # no commit: the command does it all
    real_delete = FileSystemStorage.delete
    stuck = files[1].file.name

    def delete(storage, name):
        if name == stuck:
            raise PermissionError("read-only bucket")
        real_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", delete)

    assert services.purge_deleted_files(batch_size=1) == 2
    assert [stored(media) for media in files] == [False, True, False]
    assert "could not delete" in caplog.text

    monkeypatch.undo()
    assert services.purge_deleted_files() == 1  # the next run retries it
    assert not stored(files[1])


def test_the_command_leaves_the_files_of_live_workflows(workflow, bob):
    media = share(bob, workflow)
    call_command("purge_deleted_files", stdout=StringIO())
    assert stored(media)


def test_the_command_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="--batch-size must be at least 1."):
        call_command("purge_deleted_files", "--batch-size", "0")
