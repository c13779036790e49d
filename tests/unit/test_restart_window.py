"""The supervisor's restart policy: a few restarts within a window, not a few for life."""

from __future__ import annotations

from cli.restarts import RestartWindow


def test_five_restarts_within_a_minute_are_allowed_and_the_sixth_is_not() -> None:
    window = RestartWindow(limit=5, seconds=60)

    assert [window.allow(now) for now in (0, 1, 2, 3, 4)] == [True] * 5
    assert not window.allow(30)


def test_a_part_that_fails_now_and_then_is_restarted_for_as_long_as_it_lives() -> None:
    window = RestartWindow(limit=5, seconds=60)

    # One failure every 15 s for an hour: 240 restarts, never more than 4 a minute.
    assert all(window.allow(now) for now in range(0, 3600, 15))


def test_restarts_older_than_the_window_no_longer_count() -> None:
    window = RestartWindow(limit=5, seconds=60)
    for now in (0, 10, 20, 30, 40):
        window.allow(now)

    assert not window.allow(59.9)
    assert window.allow(60)  # the restart at 0 has left the window
    assert not window.allow(61)
    assert window.allow(70)


def test_a_refused_restart_is_not_counted() -> None:
    window = RestartWindow(limit=2, seconds=60)
    window.allow(0)
    window.allow(1)
    assert not window.allow(2)
    assert not window.allow(3)

    assert window.allow(60)  # only the restart at 1 is left in the window, not 2 or 3


def test_the_pause_before_a_restart_grows_with_restarts_in_the_window_up_to_five_seconds() -> None:
    window = RestartWindow(limit=10, seconds=60)
    pauses = []
    for now in range(6):
        window.allow(now)
        pauses.append(window.pause())

    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    window.allow(120)  # the earlier restarts have left the window
    assert window.pause() == 0.5
