from datetime import UTC, datetime

import pytest

from subscriptions.providers.base import Item, parse_date


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<b>x</b>", "//evil.example/"])
def test_an_item_keeps_no_link_that_is_not_http(url):
    assert Item("ep1", url=url).url == ""


def test_an_item_keeps_its_https_link():
    assert Item("ep1", url="https://open.spotify.com/episode/ep1").url == "https://open.spotify.com/episode/ep1"


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),  # Spotify's release dates: day,
    ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)),  # month
    ("2026", datetime(2026, 1, 1, tzinfo=UTC)),  # or year precision
    ("2026-1-5", datetime(2026, 1, 5, tzinfo=UTC)),
    ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),  # YouTube's timestamps
    ("2026-11-01T12:00:00+02:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ("2026-11-01T10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),  # no zone: UTC
    ("not a date", None), ("", None), (None, None),
])
def test_provider_dates_of_every_precision_are_read_as_utc(text, expected):
    assert parse_date(text) == expected
