from io import BytesIO
from pathlib import Path

import pytest

from project.realtime.models import Event
from workflows import services
from workflows.models import MediaFile, Message

from ..conftest import TINY_PNG
from .conftest import access, who_may_write

pytestmark = pytest.mark.django_db

PNG = TINY_PNG
LIMIT = 128


@pytest.fixture(autouse=True)
def small_uploads_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.MEDIA_MAX_UPLOAD_BYTES = LIMIT


def upload(client, workflow, filename, content, content_type):
    """A multipart body written by hand: the test client would strip a path from the name."""
    boundary = "harbor-test-boundary"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return client.post(
        f"/api/workflows/{workflow.pk}/media", body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def fetch(client, user, share_url):
    if user is not None:
        client.force_login(user)
    response = client.get(share_url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return response, body


# --- Uploading ------------------------------------------------------------------------------


def test_an_editor_shares_a_file_as_a_share_link_message(api_as, workflow, erin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(api_as("editor"), workflow, "diagram.png", PNG, "image/png")
    assert response.status_code == 201
    message = response.json()
    assert message["message_type"] == "share_link"
    assert message["content"] == "diagram.png"
    assert message["sender"] == erin.email
    assert message["share_url"] == f"/share/{message['share_token']}"
    media = MediaFile.objects.get()
    assert (media.original_name, media.content_type, media.uploader) == ("diagram.png", "image/png", erin)
    assert media.size == len(PNG)
    # the delivery to the workflow's sockets, and nothing per participant (no bell for a message)
    assert len(callbacks) == 1
    assert Event.objects.get(group=workflow.group, type="message.created").data["message"]["id"] == message["id"]


def test_the_share_link_serves_the_bytes_to_a_participant(api_as, workflow, victor, client):
    message = upload(api_as("editor"), workflow, "diagram.png", PNG, "image/png").json()
    response, body = fetch(client, victor, message["share_url"])
    assert response.status_code == 200
    assert body == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="diagram.png"'


def test_a_file_that_is_not_an_image_is_downloaded_not_shown(api_as, workflow, victor, client):
    page = b"<script>alert(1)</script>"
    message = upload(api_as("editor"), workflow, "notes.txt", page, "text/plain; charset=utf-8").json()
    response, body = fetch(client, victor, message["share_url"])
    assert body == page
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_path_in_the_filename_never_reaches_storage(api_as, workflow, acme, victor, client, tmp_path):
    message = upload(api_as("editor"), workflow, "../../etc/passwd.txt", b"root:x:0:0", "text/plain").json()
    media = MediaFile.objects.get()
    assert media.original_name == "passwd.txt"
    assert media.file.name.startswith(f"media/{acme.pk}/")
    assert "passwd" not in media.file.name and ".." not in media.file.name
    assert Path(media.file.path).resolve().is_relative_to(tmp_path.resolve())
    response, body = fetch(client, victor, message["share_url"])
    assert body == b"root:x:0:0"
    assert response["Content-Disposition"] == 'attachment; filename="passwd.txt"'


def test_a_file_at_the_limit_is_accepted_and_one_byte_more_is_refused(api_as, workflow):
    client = api_as("editor")
    assert upload(client, workflow, "exact.txt", b"x" * LIMIT, "text/plain").status_code == 201
    response = upload(client, workflow, "big.txt", b"x" * (LIMIT + 1), "text/plain")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert MediaFile.objects.count() == 1


def test_a_type_outside_the_allow_list_is_refused(api_as, workflow):
    for content_type in ["application/x-msdownload", "text/html", "image/svg+xml", "application/octet-stream"]:
        response = upload(api_as("editor"), workflow, "page.html", b"<html></html>", content_type)
        assert response.status_code == 400, content_type
        assert "file" in response.json()["error"]["fields"]
    assert not MediaFile.objects.exists() and not Message.objects.exists()


def test_an_upload_without_a_file_names_the_field(api_as, workflow):
    client = api_as("editor")
    response = client.post(f"/api/workflows/{workflow.pk}/media", {"note": "forgot it"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert upload(client, workflow, "empty.txt", b"", "text/plain").status_code == 400
    assert client.post(f"/api/workflows/{workflow.pk}/media", {"file": "x"}, format="json").status_code == 415


@pytest.mark.parametrize("caller, expected", who_may_write(201))
def test_who_may_share_a_file(api_as, workflow, caller, expected):
    assert upload(api_as(caller), workflow, "diagram.png", PNG, "image/png").status_code == expected
    assert MediaFile.objects.count() == (1 if expected == 201 else 0)


def test_a_completed_workflow_takes_no_files(api_as, workflow, bob):
    services.set_status(access(bob, workflow), "completed")
    assert upload(api_as("editor"), workflow, "late.png", PNG, "image/png").status_code == 409
    assert not MediaFile.objects.exists()


# --- Who the link serves --------------------------------------------------------------------


@pytest.fixture
def share_url(api_as, workflow):
    return upload(api_as("editor"), workflow, "diagram.png", PNG, "image/png").json()["share_url"]


@pytest.mark.parametrize(
    "persona, expected",
    [("victor", 200), ("bob", 200), ("ada", 200), ("otto", 404), ("mallory", 404)],
)
def test_the_link_serves_only_those_who_may_read_the_workflow(request, client, share_url, persona, expected):
    response, body = fetch(client, request.getfixturevalue(persona), share_url)
    assert response.status_code == expected
    assert (body == PNG) == (expected == 200)


def test_an_anonymous_browser_is_sent_to_log_in(client, share_url):
    response = client.get(share_url)
    assert response.status_code == 302
    path = share_url.removeprefix("http://testserver")
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_the_link_dies_with_its_workflow(client, share_url, workflow, bob, victor):
    services.delete_workflow(access(bob, workflow))
    response, _ = fetch(client, victor, share_url)
    assert response.status_code == 404


def test_an_unknown_token_is_404(client, victor):
    response, _ = fetch(client, victor, "/share/not-a-real-token")
    assert response.status_code == 404


def shared_chart(api_as, workflow, settings):
    from PIL import Image

    settings.MEDIA_MAX_UPLOAD_BYTES = 1_000_000
    picture = BytesIO()
    Image.new("RGB", (1200, 600), (200, 30, 30)).save(picture, "PNG")
    return picture.getvalue(), upload(api_as("editor"), workflow, "chart.png", picture.getvalue(), "image/png").json()


def test_a_shared_image_has_a_thumbnail_and_its_file_facts(api_as, workflow, victor, client, settings):
    from PIL import Image

    png, message = shared_chart(api_as, workflow, settings)
    assert message["file"] == {
        "name": "chart.png", "size": len(png), "content_type": "image/png",
        "thumbnail_url": f"/share/{message['share_token']}/thumbnail",
    }
    response, body = fetch(client, victor, message["file"]["thumbnail_url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert Image.open(BytesIO(body)).size == (480, 240)


def test_a_thumbnail_is_for_the_same_people_as_its_image(api_as, workflow, mallory, client, settings):
    _, message = shared_chart(api_as, workflow, settings)
    response, _ = fetch(client, mallory, message["file"]["thumbnail_url"])
    assert response.status_code == 404


def test_a_text_file_has_no_thumbnail(api_as, workflow):
    message = upload(api_as("editor"), workflow, "notes.txt", b"hello", "text/plain").json()
    assert message["file"]["thumbnail_url"] is None and message["file"]["size"] == 5


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + b"\x00" * 24, b"GIF89a not really", b"<svg/>"])
def test_a_file_that_claims_to_be_an_image_but_is_not_is_refused(api_as, workflow, content):
    response = upload(api_as("editor"), workflow, "fake.png", content, "image/png")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"file": ["This file is not a readable image."]}
    assert not MediaFile.objects.exists() and not Message.objects.exists()
