"""Keys typed before the first screen can take them are kept, not lost.

The kiosk takes the terminal (and reads what was typed meanwhile) before the sign-in screen
is up and focused; a key that arrives then would reach no widget and vanish, so an operator
who starts typing the name and PIN at once would find half of it gone. The app holds every
key until the sign-in screen says it is ready, then gives the held keys to it one at a time,
in order and a moment apart as if typed (a key's effect, such as Enter moving to the PIN box,
lands before the next key), and keys typed meanwhile wait behind them. Only the first
sign-in screen is waited for (at most :data:`EARLY_KEYS_LIMIT_S`); afterwards every key goes
straight on.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events

REPLAY_SECONDS = 0.05
"""Between two held keys given back (typing at 20 keys a second)."""
NEWLINE = "ctrl+j"
"""An Enter typed before the kiosk took the terminal: the terminal, still in its ordinary
(cooked) mode, turned its CR into a newline, which reads as Ctrl+J. Given back as Enter."""
EARLY_KEYS_LIMIT_S = 3.0
"""Held keys go on after this long even if the sign-in screen never said it was ready (taken
down before it was up): a key is never held for good."""


class EarlyKeys:
    """The keys held until the first screen takes input."""

    def __init__(self) -> None:
        self._held: list[events.Key] | None = []
        self._given: set[int] = set()
        self._giving = False

    def hold(self, event: events.Key) -> bool:
        """True if ``event`` is kept for later (the first screen is not ready, or held keys
        are still being given back); False: handle it now."""
        if id(event) in self._given:
            self._given.discard(id(event))
            return False
        if self._held is None:
            return False
        self._held.append(event)
        return True

    def release(self, post: Callable[[events.Key], object],
                later: Callable[[float, Callable[[], None]], object]) -> None:
        """The first screen takes input: give it the held keys (``post`` each, ``later``
        schedules the next one)."""
        if self._held is None or self._giving:
            return
        self._giving = True
        self._give_next(post, later)

    def _give_next(self, post: Callable[[events.Key], object],
                   later: Callable[[float, Callable[[], None]], object]) -> None:
        if not self._held:
            self._held = None  # from now on every key goes straight on
            return
        held = self._held.pop(0)
        again = events.Key("enter", "\r") if held.key == NEWLINE else events.Key(
            held.key, held.character
        )
        self._given.add(id(again))
        post(again)
        later(REPLAY_SECONDS, lambda: self._give_next(post, later))
