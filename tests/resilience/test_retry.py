import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from project.resilience.retry import backoff_delays, call_with_retry, parse_retry_after


class Flaky(Exception):
    pass


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times, result="done"):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= times:
            raise Flaky(len(calls))
        return result

    fn.calls = calls
    return fn


def test_every_delay_stays_within_its_full_jitter_bound():
    for seed in range(500):
        delays = backoff_delays(0.5, 10.0, 8, random.Random(seed))
        assert len(delays) == 8
        for n, delay in enumerate(delays):
            assert 0 <= delay <= min(10.0, 0.5 * 2**n)


def test_jitter_spreads_delays_and_the_cap_binds():
    last = [backoff_delays(0.5, 10.0, 8, random.Random(seed))[-1] for seed in range(500)]
    assert max(last) <= 10.0 and max(last) > 9.0  # 0.5 * 2**7 = 64, capped at 10
    assert min(last) < 1.0  # full jitter, not "exponential plus a little noise"


def test_it_retries_a_retryable_error_until_it_succeeds():
    fake, fn = FakeTime(), failing(2)
    result = call_with_retry(fn, is_retryable=lambda e: True, deadline=30, max_attempts=4,
                             sleep=fake.sleep, clock=fake.clock, rng=random.Random(1))
    assert result == "done" and len(fn.calls) == 3 and len(fake.sleeps) == 2


def test_it_reraises_a_non_retryable_error_at_once():
    fake, fn = FakeTime(), failing(5)
    with pytest.raises(Flaky):
        call_with_retry(fn, is_retryable=lambda e: False, deadline=30, max_attempts=4,
                        sleep=fake.sleep, clock=fake.clock)
    assert len(fn.calls) == 1 and fake.sleeps == []


def test_it_reraises_the_last_error_after_max_attempts():
    fake, fn = FakeTime(), failing(10)
    with pytest.raises(Flaky) as raised:
        call_with_retry(fn, is_retryable=lambda e: True, deadline=300, max_attempts=4,
                        sleep=fake.sleep, clock=fake.clock)
    assert raised.value.args == (4,) and len(fn.calls) == 4


def test_it_never_sleeps_past_the_total_deadline():
    for seed in range(200):
        fake, fn = FakeTime(), failing(100)
        with pytest.raises(Flaky):
            call_with_retry(fn, is_retryable=lambda e: True, deadline=5, max_attempts=50, base=1, cap=4,
                            sleep=fake.sleep, clock=fake.clock, rng=random.Random(seed))
        assert fake.now < 5


def test_a_retry_after_longer_than_the_time_left_ends_the_retries():
    fake, fn = FakeTime(), failing(5)
    with pytest.raises(Flaky):
        call_with_retry(fn, is_retryable=lambda e: True, retry_after=lambda e: "60", deadline=30,
                        max_attempts=4, sleep=fake.sleep, clock=fake.clock)
    assert len(fn.calls) == 1 and fake.sleeps == []


def test_retry_after_replaces_the_jittered_delay():
    fake, fn = FakeTime(), failing(1)
    call_with_retry(fn, is_retryable=lambda e: True, retry_after=lambda e: "2", deadline=30,
                    max_attempts=4, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == [2.0]


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    at = lambda: now.timestamp()  # noqa: E731
    assert parse_retry_after("120", now=at) == 120
    assert parse_retry_after(3, now=at) == 3
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=at) == 90
    assert parse_retry_after("Fri, 01 May 2026 11:00:00 GMT", now=at) == 0  # in the past
    assert parse_retry_after("soon", now=at) is None
    assert parse_retry_after(None) is None
