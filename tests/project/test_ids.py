"""Public ids (project.ids): opaque, URL-safe, and every character equally likely."""

import collections
import string

from project.ids import new_public_id


def test_ids_are_letters_and_digits_of_the_asked_length_and_never_repeat():
    ids = [new_public_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(id_) == 12 and set(id_) <= set(string.ascii_letters + string.digits) for id_ in ids)
    assert len(new_public_id(20)) == 20 and len(new_public_id(1)) == 1


def test_every_character_is_as_likely_as_any_other():
    # 600,000 characters: 9,677 expected each, a standard deviation of about 98. Taking bytes
    # modulo 62 without dropping those from 248 up would give "a"-"h" 25 % more.
    counts = collections.Counter("".join(new_public_id() for _ in range(50_000)))
    expected = 600_000 / 62
    assert len(counts) == 62
    assert all(abs(count - expected) < 0.1 * expected for count in counts.values()), counts
