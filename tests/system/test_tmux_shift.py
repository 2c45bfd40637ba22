"""A shift at the kiosk in a real terminal (tmux), with the operator's ordinary mishaps (issue 11):
`kiosk demo` driven with send-keys through 20 users, the screen read with capture-pane.

In this order: the operator's own sign-in key plugged for a user (refused by name, pulled,
retried); a full key (found from what it reports before its PIN is set: its reset declined
with N, pulled, retried); a user skipped with a reason and a note; a used key (reset confirmed
with Y, touched, then the credential); the skipped user put back from the queue screen (U); the
operator walks away with a PIN on screen and the idle lock (``--idle-lock 0.5``) takes it away,
the operator signs in again and the key is pulled; two keys plugged while the kiosk is locked
(ONLY ONE KEY AT A TIME at the insert prompt after the sign-in, one pulled, the other enrolled);
a second key plugged while the first blinks for its touch (the same, then the touch); a key
pulled mid-touch, R, the same key put back with F2 (0), its reset confirmed and the user
enrolled; ``kill -9`` of the kiosk while a key blinks and `kiosk demo` started again in the
same pane with the same --state-dir (the kiosk names the key left in; after the sign-in its
reset is confirmed and the user enrolled); the guest account's question (Y); a backup key for a
user who is done (a CSV with keys = 2 dropped in the inbox and imported from the admin screen's
files, O); the manifest exported; the admin's exit.

Then the end state, read from the state directory: every user done (the backup user with two
keys), no operator key enrolled; the tenant kept by the demo, the journal, the audit trail and
the manifest naming the same keys; the two keys left holding the kiosk's PIN tracked and none
left needing a reset; and no PIN in the terminal's scrollback.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.system.shift_end_state import (
    check_keys_agree,
    check_mishaps_recorded,
    check_no_key_needs_reset,
    check_no_pin_in,
    check_queue,
    check_tenant_agrees,
)
from tests.system.test_tmux_demo import Tmux
from tests.system.tmux_shift_driver import Shift

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

USERS = 20
"""user0001..user0019 and a guest (the demo's last user)."""
IDLE_MINUTES = 0.5
"""The demo's idle lock, as short as the setting allows."""
BACKUP_UPN = "user0001@contoso.onmicrosoft.com"
SKIP_NOTE = "back tomorrow"


def test_a_shift_with_mishaps_in_a_real_terminal(tmp_path: Path) -> None:
    state = tmp_path / "shift"
    tmux = Tmux()
    shift = Shift(tmux, state)
    try:
        _drive(shift)
        history = tmux.history()
    finally:
        tmux.kill()
    check_queue(state, USERS, BACKUP_UPN)
    check_keys_agree(state, USERS)
    check_tenant_agrees(state)
    check_no_key_needs_reset(state, serials=2)  # the key pulled mid-touch, the one at the kill
    check_mishaps_recorded(state, SKIP_NOTE)
    check_no_pin_in(history, shift.pins, USERS + 1)


def _demo(shift: Shift) -> str:
    return (f"{sys.executable} -m kiosk demo --users {USERS} --latency none "
            f"--idle-lock {IDLE_MINUTES} --state-dir {shift.state}")


def _drive(shift: Shift) -> None:
    tmux = shift.t
    tmux.start(_demo(shift), width=120, height=36)
    shift.sign_in()  # at once: no keystroke is lost while the demo environment starts
    tmux.wait("INSERT A KEY")
    # user0001: the operator's own key first: refused by name before anything is done to it.
    shift.plug("9")
    shift.refused_then_retry("This is Demo operator's operator key. Remove it.")
    shift.enroll(done_after=1)
    # user0002: a full key, found before its PIN is set (no touch): its reset declined,
    # refused; then a good one.
    tmux.wait("INSERT A KEY")
    shift.plug("4")
    tmux.wait("is full: it reports no room for another credential")
    tmux.keys("n")
    shift.refused_then_retry("its reset was declined")
    shift.enroll(done_after=2)
    # user0003: not here today: skipped with a reason (and a note).
    shift.skip(SKIP_NOTE)
    # the next user: a used key (PIN and credentials): reset confirmed, touched, then enrolled.
    tmux.wait("INSERT A KEY")
    shift.plug("3")
    tmux.wait("Erase only keys from your own stock")
    shift.reset_then_enroll(done_after=3)
    # The skipped user back in the queue from the queue screen (U), then on with the batch.
    shift.requeue_skipped()
    # The operator walks away from the PIN box: the idle lock clears it.
    shift.idle_lock_in_pin_box(done_after=4, idle_minutes=IDLE_MINUTES)
    shift.second_key_at_insert(done_after=5)
    shift.second_key_at_touch(done_after=6)
    shift.pulled_mid_touch(done_after=7)
    shift.kill_and_restart(_demo(shift), done_after=8)
    done = 8
    while done < USERS:
        done += 1
        shift.enroll(done_after=done)
    assert shift.guests == 1
    shift.backup_key(BACKUP_UPN, done)
    shift.export_and_exit()
