import pytest

from subscriptions.providers.base import Item


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<b>x</b>", "//evil.example/"])
def test_an_item_keeps_no_link_that_is_not_http(url):
    assert Item("ep1", url=url).url == ""


def test_an_item_keeps_its_https_link():
    assert Item("ep1", url="https://open.spotify.com/episode/ep1").url == "https://open.spotify.com/episode/ep1"
