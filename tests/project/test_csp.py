"""Every page carries the Content-Security-Policy, and no page needs what the policy refuses:
no style attribute, no inline script, no event-handler attribute. tests/e2e checks the same in a
real browser (any violation fails a browser test)."""

from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError

from notifications import services as notifications
from notifications.models import Kind
from queue_app import services as queue
from workflows import services as workflows
from workflows.access import get_workflow_access

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
#: <script type=...> that the browser does not run (data blocks), so the policy ignores them.
DATA_BLOCK_TYPES = {"application/json", "application/ld+json"}


def policy_of(response) -> dict[str, set[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


class InlineFinder(HTMLParser):
    """What a strict policy refuses: style="…", on…="…", javascript: URLs, inline <script> and
    <style> elements."""

    def __init__(self):
        super().__init__()
        self.found = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script" and "src" not in attrs and (attrs.get("type") or "").lower() not in DATA_BLOCK_TYPES:
            self._in_inline_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:80]!r}")


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found


@pytest.fixture
def staff(alice):
    """alice runs the site, too: the admin and the status page need staff."""
    alice.is_staff = alice.is_superuser = True
    alice.save(update_fields=["is_staff", "is_superuser"])
    return alice


@pytest.fixture
def data(staff, acme, bob):
    """Something on every page: a workflow with a message, a coloured queue thread with replies
    (depth and colour were inline styles), a notification."""
    workflow = workflows.create_workflow(acme, staff, "Launch plan", [(bob.email, "editor")])
    workflows.post_message(get_workflow_access(staff, workflow.pk), "First message")
    parent = queue.post_message(staff, "Hello, bots", color="#aa3300", entity="duke")
    reply = queue.post_message(bob, "A reply", color="#0055aa", reply_to=parent.pk)
    queue.post_message(staff, "A reply to the reply", reply_to=reply.pk)
    queue.post_message(bob, "In Acme's stream", color="#117733", tenant_id=acme.pk)
    notifications.notify([staff], Kind.QUEUE_REPLY, title="A bot answered", link="/queue/")
    return {"workflow": workflow, "tenant": acme, "queue_message": parent, "user": bob}


ANONYMOUS_PAGES = ["/accounts/login/", "/accounts/register/"]
USER_PAGES = [
    "/",
    "/workflows/",
    "/workflows/{workflow.pk}/",
    "/queue/",
    "/queue/?tenant={tenant.pk}",
    "/notifications/",
    "/notifications/preferences/",
    "/subscriptions/",
    "/subscriptions/accounts/",
    "/subscriptions/feed/",
    "/tokens/",
    "/tenants/new/",
    "/tenants/{tenant.pk}/",
    "/accounts/password/",
    "/health/status/",
    "/admin/",
    "/admin/accounts/user/{user.pk}/change/",
    "/admin/workflows/workflow/{workflow.pk}/change/",
    "/admin/queue_app/queuemessage/",
    "/admin/queue_app/queuemessage/{queue_message.pk}/change/",
    "/api/docs/",
]


def assert_strict(response):
    assert response.status_code == 200, response.content[:500]
    assert policy_of(response) == POLICY
    assert inline_code(response.content.decode()) == []


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_pages_send_the_policy_and_nothing_inline(client, path):
    assert_strict(client.get(path))


@pytest.mark.parametrize("path", USER_PAGES)
def test_signed_in_pages_send_the_policy_and_nothing_inline(client, staff, data, path):
    client.force_login(staff)
    assert_strict(client.get(path.format(**data)))


def test_the_admin_login_page_is_strict_too(client):
    assert_strict(client.get("/admin/login/"))


def test_error_pages_send_the_policy(client, alice):
    client.force_login(alice)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert policy_of(response) == POLICY


def test_api_answers_send_the_policy(client, alice):
    # JSON is not rendered, but a response opened directly in a browser is still confined.
    response = client.post("/api/auth/token", {"email": alice.email, "password": PASSWORD}, content_type="application/json")
    assert policy_of(response) == POLICY


def test_the_swagger_ui_init_script_is_a_file_of_its_own(client, alice):
    client.force_login(alice)
    page = client.get("/api/docs/").content.decode()
    assert 'src="/api/docs/?script=' in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content


def test_queue_depth_and_colour_travel_as_data_attributes(client, staff, data):
    client.force_login(staff)
    page = client.get("/queue/").content.decode()
    assert 'data-depth="2"' in page and 'data-color="#aa3300"' in page and 'data-color="#0055aa"' in page


def test_the_finder_finds_what_the_policy_refuses():
    html = (
        '<p style="color: red">a</p><button onclick="go()">b</button><a href="javascript:go()">c</a>'
        "<script>alert(1)</script><style>p{}</style>"
        '<script src="/static/x.js"></script><script type="application/json">{"a": 1}</script>'
    )
    assert len(inline_code(html)) == 5


def test_a_colour_is_still_validated_before_it_reaches_a_page(alice):
    # data-color is escaped by the template, and queue.js applies only #rrggbb, but the service is
    # what keeps anything else out of the database.
    with pytest.raises(ValidationError):
        queue.post_message(alice, "x", color="red;background:url(x)")


def test_the_header_is_django_csps_own_and_follows_the_settings(client, settings):
    """project.csp builds the header once per process; a changed setting is a new header."""
    from csp.utils import build_policy

    assert client.get("/health").headers["Content-Security-Policy"] == build_policy()
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    response = client.get("/health")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.headers["Content-Security-Policy-Report-Only"] == "default-src 'self'"
