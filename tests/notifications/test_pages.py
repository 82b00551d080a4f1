"""The bell, the notifications page and the preferences page, driven like a browser without
JavaScript would."""

import pytest
from django.urls import reverse

from notifications import services
from notifications.models import EMAIL_KINDS, Kind, Notification, Preference

pytestmark = pytest.mark.django_db

LIST = reverse("notification_list")
READ = reverse("notification_read")
PREFERENCES = reverse("notification_preferences")


@pytest.fixture
def bob_browser(client, bob):
    client.force_login(bob)
    return client


def notify_bob(bob, count=1, **fields):
    return [services.notify([bob], Kind.QUEUE_REPLY, title=f"Reply {n}", **fields)[0] for n in range(count)]


def test_every_page_shows_the_bell_with_the_unread_count(bob_browser, bob):
    notify_bob(bob, 3)
    page = bob_browser.get(reverse("workflow_list")).content.decode()
    assert 'id="notification-bell"' in page
    assert "data-unread-count>3</span>" in page
    assert f'data-check-url="/notifications/{bob.email}/check"' in page
    assert "js/notifications.js" in page


def test_the_bell_hides_its_badge_at_zero(bob_browser):
    assert "data-unread-count hidden>0</span>" in bob_browser.get(LIST).content.decode()


def test_anonymous_pages_have_no_bell(client):
    page = client.get(reverse("login")).content.decode()
    assert "notification-bell" not in page and "notifications.js" not in page


def test_the_list_shows_only_the_users_own_escaped(bob_browser, bob, carol):
    services.notify([bob], Kind.QUEUE_REPLY, title="<script>x</script>", link="/workflows/")
    services.notify([carol], Kind.QUEUE_REPLY, title="Carol's secret")
    page = bob_browser.get(LIST).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x</script>" not in page
    assert "Carol" not in page


def test_mark_read_marks_one_and_returns_to_the_page(bob_browser, bob):
    first, second = notify_bob(bob, 2)
    response = bob_browser.post(READ, {"id": first.pk, "next": f"{LIST}?page=1"})
    assert response.status_code == 302 and response["Location"] == f"{LIST}?page=1"
    assert list(Notification.objects.filter(read_at__isnull=True)) == [second]


def test_mark_read_never_redirects_off_site(bob_browser, bob):
    [one] = notify_bob(bob)
    response = bob_browser.post(READ, {"id": one.pk, "next": "https://evil.example/"})
    assert response["Location"] == LIST


def test_mark_all_read_clears_the_bell(bob_browser, bob):
    notify_bob(bob, 3)
    response = bob_browser.post(READ, follow=True)
    assert "Marked 3 notifications read." in response.content.decode()
    assert services.unread_count(bob) == 0


def test_the_unread_filter_lists_unread_only(bob_browser, bob):
    first, second = notify_bob(bob, 2)
    services.mark_read(bob, [first.pk])
    page = bob_browser.get(f"{LIST}?unread=1").content.decode()
    assert "Reply 1" in page and "Reply 0" not in page


def test_marking_someone_elses_notification_changes_nothing(bob_browser, carol):
    [theirs] = services.notify([carol], Kind.QUEUE_REPLY, title="Carol's")
    bob_browser.post(READ, {"id": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_preferences_page_turns_kinds_off_and_on(bob_browser, bob):
    page = bob_browser.get(PREFERENCES).content.decode()
    assert "Mentioned in a workflow" in page
    chosen = {kind: "on" for kind in Kind.values if kind != Kind.WORKFLOW_MENTION}
    response = bob_browser.post(PREFERENCES, chosen)
    assert response.status_code == 302
    assert services.enabled_kinds(bob)[Kind.WORKFLOW_MENTION] is False
    assert Preference.objects.get(user=bob, kind=Kind.WORKFLOW_MENTION).in_app is False
    assert 'name="workflow.mention" id="id_workflow.mention"' in bob_browser.get(PREFERENCES).content.decode()
    bob_browser.post(PREFERENCES, {kind: "on" for kind in Kind.values})
    assert all(services.enabled_kinds(bob).values())


def test_preferences_page_has_the_email_choices_beside_the_in_app_ones(bob_browser, bob):
    page = bob_browser.get(PREFERENCES).content.decode()
    assert "Email me what I missed about" in page and "within 15 minutes" in page
    # Each kind a person can miss has its email checkbox, on by default; the others have none.
    for kind in EMAIL_KINDS:
        assert f'name="email-{kind}" id="id_email-{kind}" checked' in page
    assert 'name="email-workflow.completed"' not in page
    emailed = {f"email-{kind}": "on" for kind in EMAIL_KINDS if kind != Kind.QUEUE_REPLY}
    response = bob_browser.post(PREFERENCES, {**{kind: "on" for kind in Kind.values}, **emailed})
    assert response.status_code == 302
    assert services.emailed_kinds(bob) == {kind: kind != Kind.QUEUE_REPLY for kind in EMAIL_KINDS}
    assert services.enabled_kinds(bob)[Kind.QUEUE_REPLY] is True  # still shown in Harbor
    assert 'name="email-queue.reply" id="id_email-queue.reply">' in bob_browser.get(PREFERENCES).content.decode()


def test_pages_need_a_login(client):
    for url in (LIST, PREFERENCES):
        assert client.get(url)["Location"].startswith(reverse("login"))
    assert client.post(READ).status_code == 302
