"""Two people collaborating in their browsers, everything through the UI of a real server."""

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.conftest import TINY_PNG, http_json

from .conftest import ARTIFACTS, LIVE_MS, invite_and_join, register, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

PNG = TINY_PNG


@dataclass
class Team:
    alice: object  # her page
    bob: object
    workflow_url: str


@pytest.fixture
def team(server, open_browser, smtp_server) -> Team:
    """Alice and bob register, alice creates a tenant, invites bob, who joins from the emailed
    link, and she starts a workflow with him."""
    alice, bob = open_browser(), open_browser()
    register(alice, server.url, "alice@example.com", "Alice")
    register(bob, server.url, "bob@example.com", "Bob")

    alice.goto(f"{server.url}/tenants/new/")
    alice.get_by_label("Name").fill("Acme")
    alice.get_by_role("main").get_by_role("button", name="Create").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text(re.compile("Acme"))
    invite_and_join(alice, bob, "bob@example.com", smtp_server)

    alice.goto(f"{server.url}/workflows/")
    alice.get_by_label("Title").fill("Launch plan")
    alice.get_by_label("Participants").fill("bob@example.com")
    alice.get_by_role("button", name="Create workflow").click()
    expect(alice.locator("#workflow-title")).to_have_text("Launch plan")
    return Team(alice, bob, alice.url)


def test_a_new_team_sets_up_a_workflow_through_the_pages(team):
    participants = team.alice.locator("#participants")
    expect(participants).to_contain_text("Alice")
    expect(participants.get_by_text("Bob", exact=True)).to_have_attribute("title", "bob@example.com")
    team.bob.goto(team.workflow_url)
    expect(team.bob.locator("#workflow-title")).to_have_text("Launch plan")


def test_a_message_typed_by_one_appears_for_the_other_with_typing_and_presence(team):
    alice, bob = team.alice, team.bob
    bob.goto(team.workflow_url)
    alice.goto(team.workflow_url)
    wait_live(alice)
    wait_live(bob)
    expect(alice.locator("#presence")).to_contain_text("Bob", timeout=LIVE_MS)  # names, not emails

    composer = alice.locator("#composer textarea")
    composer.press_sequentially("Kick-off at ten")
    expect(bob.locator("#typing")).to_contain_text("Alice is typing", timeout=LIVE_MS)
    alice.locator("#composer").get_by_role("button", name="Send").click()

    expect(bob.locator("#messages")).to_contain_text("Kick-off at ten", timeout=LIVE_MS)
    expect(alice.locator("#messages")).to_contain_text("Kick-off at ten", timeout=LIVE_MS)
    expect(composer).to_have_value("")
    expect(bob).to_have_url(team.workflow_url)  # no reload happened


def test_messages_count_as_unread_not_as_bells_and_reading_clears_them_live(team):
    """Ben (bob) keeps the workflow list and his home page open; Ann (alice) writes. Both count
    the unread message live without a bell; opening the thread in another tab clears the counts
    and the bell's "added you"; a mention of him rings the bell."""
    bob_list = team.bob
    site = team.workflow_url.split("/workflows/")[0]
    bob_list.goto(site + "/workflows/")
    row = bob_list.locator("#workflow-rows li").filter(has_text="Launch plan")
    unread = row.locator("[data-unread]")
    bell = bob_list.locator("#notification-bell [data-unread-count]")
    expect(bell).to_have_text("1")  # added to the workflow
    expect(unread).to_be_hidden()
    home = bob_list.context.new_page()
    home.goto(site + "/")
    summary = home.locator("[data-total-unread]")
    expect(summary).to_have_text("You are all caught up.")
    team.alice.goto(team.workflow_url)
    wait_live(team.alice)
    bob_list.wait_for_timeout(500)  # the inbox sockets connect

    composer = team.alice.locator("#composer textarea")
    composer.fill("Please review")
    composer.press("Enter")  # Enter sends
    expect(composer).to_have_value("", timeout=LIVE_MS)
    expect(unread).to_have_text("1 unread", timeout=LIVE_MS)
    expect(row.locator("[data-preview]")).to_contain_text("Alice: Please review")
    expect(summary).to_have_text("1 unread message in 1 workflow below.", timeout=LIVE_MS)
    expect(bell).to_have_text("1")  # a message is no bell

    thread = bob_list.context.new_page()
    thread.goto(team.workflow_url)
    expect(thread.locator("#new-messages")).to_be_visible()
    expect(unread).to_be_hidden(timeout=LIVE_MS)  # read in the other tab
    expect(summary).to_have_text("You are all caught up.", timeout=LIVE_MS)
    expect(bell).to_be_hidden(timeout=LIVE_MS)  # opening the workflow read its "added you"
    thread.close()

    # The composer offers the participants after "@"; Enter picks one, the next Enter sends.
    composer.fill("")
    composer.press_sequentially("@bo")
    expect(team.alice.get_by_role("option", name="Bob")).to_be_visible()
    composer.press("Enter")
    expect(composer).to_have_value("@**Bob** ")
    composer.press_sequentially("can you take the numbers?")
    composer.press("Enter")
    expect(team.alice.locator("#messages .mention")).to_have_text("@Bob", timeout=LIVE_MS)
    expect(bell).to_have_text("1", timeout=LIVE_MS)
    expect(unread).to_have_text("1 unread")
    bob_list.screenshot(path=str(ARTIFACTS / "workflow-list-live.png"), full_page=True)


def test_an_edit_and_a_delete_reach_the_other_browser_live(team):
    alice, bob = team.alice, team.bob
    bob.goto(team.workflow_url)
    alice.goto(team.workflow_url)
    wait_live(alice)
    wait_live(bob)
    alice.locator("#composer textarea").fill("Kick-of at ten")
    alice.locator("#composer textarea").press("Enter")
    mine = alice.locator("#messages li.chat-message").last  # the only one
    theirs = bob.locator("#messages li.chat-message").filter(has_text="Kick-of at ten")
    expect(theirs).to_be_visible(timeout=LIVE_MS)
    expect(theirs.locator("summary")).to_have_count(0)  # not bob's to change
    expect(theirs.get_by_role("button")).to_have_text(["Mark unread"])  # but his to mark unread

    mine.get_by_text("Edit", exact=True).click()
    mine.get_by_label("Edit your message").fill("Kick-off at ten")
    mine.get_by_role("button", name="Save").click()
    edited = bob.locator("#messages li.chat-message").filter(has_text="Kick-off at ten")
    expect(edited).to_contain_text("(edited)", timeout=LIVE_MS)
    expect(bob).to_have_url(team.workflow_url)  # no reload happened

    mine.get_by_role("button", name="Delete").click()
    expect(edited).to_have_count(0, timeout=LIVE_MS)
    expect(bob.locator("#messages")).to_contain_text("This message was deleted.")
    expect(bob.locator("#messages li.chat-message").last.get_by_role("button")).to_have_count(0)
    bob.screenshot(path=str(ARTIFACTS / "thread-edit-delete.png"), full_page=True)

    alice.locator("#composer textarea").fill("Agenda attached")
    alice.locator("#composer textarea").press("Enter")
    live = bob.locator("#messages li.chat-message").filter(has_text="Agenda attached")
    live.get_by_role("button", name="Mark unread").click()
    expect(bob.get_by_role("status")).to_contain_text("is unread from that message on")
    expect(bob.locator("#workflow-rows li").filter(has_text="Launch plan").locator("[data-unread]")).to_have_text("1 unread")


def test_a_shared_file_opens_for_a_participant_and_404s_for_an_outsider(team, server, open_browser, tmp_path):
    picture = tmp_path / "diagram.png"
    picture.write_bytes(PNG)
    alice, bob = team.alice, team.bob
    bob.goto(team.workflow_url)
    wait_live(bob)
    alice.get_by_label("Share a file").set_input_files(str(picture))
    alice.get_by_role("button", name="Upload and share").click()
    link = bob.locator("#messages").get_by_role("link", name="diagram.png", exact=True)
    expect(link).to_be_visible(timeout=LIVE_MS)
    # A thumbnail, decoded by the browser, with the file's size and type beside it.
    thumbnail = bob.locator("#messages .chat-thumbnail img")
    expect(thumbnail).to_be_visible()
    bob.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    expect(bob.locator("#messages .chat-file-facts")).to_contain_text("70\xa0bytes · image/png")
    bob.screenshot(path=str(ARTIFACTS / "thread-thumbnail.png"), full_page=True)
    share_url = link.get_attribute("href")
    assert share_url.startswith("/share/")

    response = bob.request.get(f"{server.url}{share_url}")
    assert response.status == 200 and response.body() == PNG
    assert response.headers["content-type"] == "image/png"

    mallory = open_browser()
    register(mallory, server.url, "mallory@evil.example", "Mallory")
    assert mallory.request.get(f"{server.url}{share_url}").status == 404
    assert http_json("GET", f"{server.url}{share_url}".replace("/share/", "/api/share/"))[0] == 404


def test_a_file_over_the_limit_is_refused_before_it_is_sent(team, tmp_path):
    big = tmp_path / "huge.pdf"
    big.write_bytes(b"%PDF" + b"0" * (10 * 1024 * 1024 + 1))
    alice = team.alice
    wait_live(alice)
    requests = []
    alice.on("request", lambda request: requests.append(request.url) if request.method == "POST" else None)
    alice.get_by_label("Share a file").set_input_files(str(big))
    alice.get_by_role("button", name="Upload and share").click()
    expect(alice.locator("[data-upload-error]")).to_contain_text("files are limited to 10.0 MB")
    assert requests == [] and alice.url == team.workflow_url
