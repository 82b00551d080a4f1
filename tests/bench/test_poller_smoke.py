"""The poller benchmark must not rot: `bin/bench poller` end to end with 20 users on SQLite (its
own database file, the fake provider processes, the real command, both baselines), checked as
its user reads it: the table, the ratios and ok."""

import copy

import pytest
from django.conf import settings

from bench.harness import Run
from bench.poller import BASELINES, ITEMS, problems
from bench.poller import poller as poller_benchmark

# It benchmarks a SQLite database of its own whatever the leg: once, on the embedded leg, is enough.
pytestmark = pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="embedded leg only")

USERS = 20


def test_twenty_users_are_polled_once_each_by_harbor_and_by_the_baseline(tmp_path):
    result = poller_benchmark(Run(quick=True, db="sqlite", processes=None, workdir=tmp_path, options={"users": USERS}))

    assert result.ok, result.notes
    harbor = [row for row in result.rows if row["leg"] == "harbor poll_subscriptions"]
    assert [row["concurrency"] for row in harbor] == [4, 16]
    for row in harbor:
        assert (row["users"], row["provider calls"], row["failures"]) == (USERS, 3 * USERS, 0)
        assert row["items stored"] == 3 * ITEMS * USERS
        assert row["users/s"] > 0 and row["users/s ×base"] > 0 and row["×base (env once)"] > 0
    for label in BASELINES.values():  # requests as it comes, and with the environment read once
        baseline = [row for row in result.rows if row["leg"] == label]
        assert [row["concurrency"] for row in baseline] == [4, 16]
        for row in baseline:
            assert (row["users"], row["provider calls"], row["failures"]) == (USERS, 3 * USERS, 0)
    outcome = result.data["legs"][0]["harbor"]["outcome"]
    assert outcome["subscriptions_with_exactly_their_items"] == 3 * USERS
    assert outcome["notified"] == USERS


def test_the_checks_catch_a_user_polled_twice_and_an_item_stored_in_the_wrong_feed(tmp_path):
    """The verification is not vacuous: a correct leg passes, broken ones name what broke."""
    good = {
        "summary": {"users_polled": 2, "items_found": 18, "failures": 0, "duration_s": 1.0},
        "provider": {"calls": 6, "refused": 0, "token_requests": 0, "accounts": 2, "calls_per_account": {3: 2}},
        "outcome": {"users_polled": 2, "polled_once": 2, "subscriptions_polled": 6, "items": 18,
                    "subscriptions_with_exactly_their_items": 6, "notified": 2, "leased": 0},
    }
    assert problems(good, users=2, items=3) == []

    twice = copy.deepcopy(good)
    twice["provider"]["calls_per_account"] = {3: 1, 6: 1}
    assert problems(twice, users=2, items=3) == ["provider calls per account {3: 1, 6: 1}, not 3 for each of 2"]

    misplaced = copy.deepcopy(good)
    misplaced["outcome"]["subscriptions_with_exactly_their_items"] = 5
    assert problems(misplaced, users=2, items=3) == ["5 of 6 subscriptions hold exactly their 3 items"]
