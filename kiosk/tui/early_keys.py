"""Keys typed before a screen can take them are kept, not lost.

The kiosk takes the terminal (and reads what was typed meanwhile) before the sign-in screen
is up and focused; a key that arrives then would reach no widget and vanish, so an operator
who starts typing the name and PIN at once would find half of it gone. The same holds for
every screen typed into as soon as it appears (:class:`TypedInto`: the lock screen the idle
timeout puts up, the skip question): until it has given its first field the focus, a key
goes to the bare screen and is dropped. The app holds every key until such a screen says it
is ready (:class:`KeysTaken`), then gives the held keys to it one at a time, in order and a
moment apart as if typed, and keys typed meanwhile wait behind them. At the start every key
is held until the first sign-in screen is ready; a key is never held for more than
:data:`EARLY_KEYS_LIMIT_S` (the screen was taken down before it was up).

A key that moves the focus (Enter on a list, to the box under it) does so at once, in the
app's own handling of the key (:func:`enter_moves_to`): keys typed right after it then reach
the box, where a focus moved later would leave them to the list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget

REPLAY_SECONDS = 0.05
"""Between two held keys given back (typing at 20 keys a second)."""
NEWLINE = "ctrl+j"
"""An Enter typed before the kiosk took the terminal: the terminal, still in its ordinary
(cooked) mode, turned its CR into a newline, which reads as Ctrl+J. Given back as Enter."""
EARLY_KEYS_LIMIT_S = 3.0
"""Held keys go on after this long even if the screen never said it was ready (taken down
before it was up): a key is never held for good."""

Post = Callable[[events.Key], object]
Later = Callable[[float, Callable[[], None]], object]


class KeysTaken(Message):
    """A screen typed into has its first field focused: held keys go on to it."""


class TypedInto:
    """Mixed into a screen typed into as soon as it appears: the app holds keys for it until
    :func:`take_keys` has focused its first field."""

    keys_taken = False

    ENTER_MOVES_ON = Binding("enter", "enter_moves_on", show=False, priority=True)
    """Bound by a screen with :func:`enter_moves_to`: checked before the key is sent on."""


def waiting_for_keys(screen: Screen[Any]) -> bool:
    """``screen`` is typed into and not ready yet: keys for it are held."""
    return isinstance(screen, TypedInto) and not screen.keys_taken


def take_keys(screen: Screen[Any], field: Widget) -> None:
    """Focus ``field`` now (``Widget.focus`` waits for a later turn, by which time keys may
    have gone to the bare screen) and tell the app the screen takes keys."""
    screen.set_focus(field)
    if isinstance(screen, TypedInto):
        screen.keys_taken = True
    screen.post_message(KeysTaken())


def enter_moves_to(screen: Screen[Any], origin: Widget, target: Widget) -> None:
    """Enter while ``origin`` (a list) has the focus: the focus moves to ``target`` at once.
    Anywhere else Enter does what it does there (the binding is skipped)."""
    if screen.focused is not origin:
        raise SkipAction()
    screen.set_focus(target)


class EarlyKeys:
    """The keys held until the screen that is to take them is ready."""

    def __init__(self, post: Post, later: Later, waiting: Callable[[], bool]) -> None:
        """``waiting``: the screen keys go to now is not ready for them."""
        self._post = post
        self._later = later
        self._waiting = waiting
        self._held: list[events.Key] | None = []  # held from the start
        self._given: set[int] = set()
        self._giving = False
        self._round = 0

    def start(self) -> None:
        """The app is running: the keys held from the start go on at the latest after
        :data:`EARLY_KEYS_LIMIT_S`."""
        self._limit()

    def hold(self, event: events.Key) -> bool:
        """True if ``event`` is kept for later (the screen is not ready, or held keys are
        still being given back); False: handle it now."""
        if id(event) in self._given:
            self._given.discard(id(event))
            return False
        if self._held is None:
            if not self._waiting():
                return False
            self._held = []
            self._limit()
        self._held.append(event)
        return True

    def _limit(self) -> None:
        self._round += 1
        this_round = self._round
        self._later(EARLY_KEYS_LIMIT_S, lambda: self.release(this_round))

    def release(self, this_round: int | None = None) -> None:
        """The screen takes input (or the wait of ``this_round`` is over): give it the held
        keys."""
        if this_round is not None and this_round != self._round:
            return  # the limit of a wait already over
        if self._held is None or self._giving:
            return
        self._giving = True
        self._give_next(this_round is not None)

    def _give_next(self, forced: bool = False) -> None:
        if not self._held:
            self._held = None  # from now on every key goes straight on
            self._giving = False
            return
        if self._waiting() and not forced:
            # A held key put up another screen typed into (the lock's Enter, say): the rest
            # waits for it.
            self._giving = False
            self._limit()
            return
        held = self._held.pop(0)
        again = events.Key("enter", "\r") if held.key == NEWLINE else events.Key(
            held.key, held.character
        )
        self._given.add(id(again))
        self._post(again)
        self._later(REPLAY_SECONDS, self._give_next)
