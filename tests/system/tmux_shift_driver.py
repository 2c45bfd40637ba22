"""The operator's hands and eyes on `kiosk demo` in tmux, for the shift test.

Each method is one thing an operator does at the kiosk (plug a key, answer a question, sign in
again after the idle lock) and waits for what the screen says back. PINs shown in the PIN box
are noted so the test can look for them in the terminal's scrollback at the end.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from kiosk.demo.operators import DEMO_ADMIN_PIN, DEMO_OPERATOR_PIN
from tests.system.test_tmux_demo import SPACED_PIN, Tmux

PIN_BOX = "shown only this once"
ONE_KEY = "ONLY ONE KEY AT A TIME"
CREDENTIAL_TOUCH = "to create the credential"


class Shift:
    """The operator at the demo kiosk in tmux."""

    def __init__(self, tmux: Tmux, state: Path) -> None:
        self.t = tmux
        self.state = state
        self.pins: list[str] = []
        self.guests = 0

    # ---- reading the screen ---------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """The batch counts on the bottom line (pending, active, done, failed, skipped)."""
        line = next((ln for ln in self.t.screen().splitlines()
                     if "pending" in ln and "done" in ln), "")
        found = re.findall(r"(pending|active|done|failed|skipped) (\d+)", line)
        return {word: int(n) for word, n in found}

    def wait_done(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.counts().get("done") != n:
            assert time.monotonic() < deadline, self.t.screen()
            time.sleep(0.1)

    def wait_any(self, *texts: str, timeout: float = 30.0) -> str:
        """Wait until one of ``texts`` is on screen; return that text."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.t.screen()
            for text in texts:
                if text in screen:
                    return text
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)

    def next_user(self) -> None:
        """Wait for INSERT A KEY; the guest's question first (answered yes: expected)."""
        deadline = time.monotonic() + 30
        while True:
            screen = self.t.screen()
            if "Enroll a guest?" in screen:
                self.guests += 1
                self.t.keys("y")
            elif "INSERT A KEY" in screen:
                return
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)

    # ---- the demo's keys --------------------------------------------------------------------
    def plug(self, choice: str) -> None:
        """F2 and the menu's choice: a profile's number, 9 (the operator's key), 0 (again)."""
        self.t.keys("F2")
        self.t.wait("plug in a virtual key")
        self.t.keys(choice)

    # ---- sign-in -------------------------------------------------------------------------
    def sign_in(self) -> None:
        """The operator's name, then the PIN, typed at once as soon as the box is drawn."""
        self.t.wait("Choose your name")
        self.t.keys("Enter", *DEMO_OPERATOR_PIN, "Enter")

    def admin(self) -> None:
        self.t.keys("a")
        self.t.wait("Admin PIN")
        self.t.keys(*DEMO_ADMIN_PIN, "Enter")
        self.t.wait("Admin mode")

    # ---- one user ------------------------------------------------------------------------
    def take_pin(self) -> str:
        """The PIN box is up: note the PIN it shows."""
        screen = self.t.wait(PIN_BOX)
        found = SPACED_PIN.search(screen)
        assert found, screen
        self.pins.append(found.group(1).replace("  ", ""))
        return self.pins[-1]

    def touch_and_take_pin(self) -> None:
        """TOUCH THE KEY NOW -> F3; the PIN box: note the PIN, clear it; pull the key."""
        self.t.wait("TOUCH THE KEY NOW")
        self.t.keys("F3")
        pin = self.take_pin()
        self.t.keys("Space")
        screen = self.t.wait("REMOVE THE KEY")
        assert pin not in screen.replace("  ", "")
        self.t.keys("F4")

    def enroll(self, done_after: int) -> None:
        self.next_user()
        self.plug("1")
        self.touch_and_take_pin()
        self.wait_done(done_after)

    def refused_then_retry(self, error: str) -> None:
        self.t.wait(error)
        self.t.keys("F4")
        time.sleep(0.5)
        self.t.keys("r")
        self.t.wait("INSERT A KEY")

    def skip(self, note: str) -> None:
        """K, the first reason of the list and a note; wait for the result line."""
        self.t.wait("INSERT A KEY")
        self.t.keys("k")
        self.t.wait("why?")
        self.t.keys("Enter")
        self.t.run("send-keys", "-t", self.t.session, "-l", note)
        self.t.keys("Enter")
        self.t.wait(note)  # the last result: skipped, with the reason and the note

    def requeue_skipped(self) -> None:
        """The queue screen (Q): the skipped user's row, U; back to enrolling."""
        self.next_user()
        self.t.keys("q")
        self.t.wait("# Status")
        row = self._skipped_row()
        self.t.keys(*["Down"] * row, "u")
        self.t.wait("back in the queue")
        self.t.keys("Escape")

    def _skipped_row(self, timeout: float = 20.0) -> int:
        """The index of the skipped user's row in the queue list, once the list is drawn."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.t.screen().splitlines()
            start = next((i for i, ln in enumerate(lines) if "# Status" in ln), len(lines))
            rows = [ln for ln in lines[start + 1:] if re.match(r"^\s*[▶>]?\s*\d+ ", ln)]
            found = [i for i, line in enumerate(rows) if "skipped" in line]
            if found:
                return found[0]
            assert time.monotonic() < deadline, self.t.screen()
            time.sleep(0.1)

    def idle_lock_in_pin_box(self, done_after: int, idle_minutes: float) -> None:
        """The operator walks away with the PIN on screen: the kiosk locks itself, the PIN
        goes with the lock; after signing in again the key is pulled as usual."""
        self.next_user()
        self.plug("1")
        self.t.wait("TOUCH THE KEY NOW")
        self.t.keys("F3")
        pin = self.take_pin()
        screen = self.t.wait("KIOSK LOCKED", timeout=idle_minutes * 60 + 15)
        assert pin not in screen.replace(" ", "")
        self.sign_in()
        screen = self.t.wait("REMOVE THE KEY")
        assert pin not in screen.replace(" ", "")
        self.t.keys("F4")
        self.wait_done(done_after)

    def second_key_at_insert(self, done_after: int) -> None:
        """Two keys plugged while the kiosk is locked (L): after the sign-in the kiosk says
        ONLY ONE KEY AT A TIME; the second pulled, it goes on with the first."""
        self.next_user()
        self.t.keys("l")
        if "closes" in self.wait_any("KIOSK LOCKED", "Enter or Esc closes"):
            self.t.keys("Escape")  # the report of the shift that ended (shown if any)
            self.t.wait("KIOSK LOCKED")
        self.plug("1")
        self.t.wait("Choose your name")
        self.plug("1")
        self.sign_in()
        screen = self.t.wait(ONE_KEY)
        assert "2 keys" in screen, screen
        self.t.keys("F4")
        self.touch_and_take_pin()
        self.wait_done(done_after)

    def second_key_at_touch(self, done_after: int) -> None:
        """A second key plugged while the first blinks for its touch: ONLY ONE KEY AT A TIME;
        the second pulled, the first is touched and enrolled."""
        self.next_user()
        self.plug("1")
        self.t.wait(CREDENTIAL_TOUCH)
        self.plug("1")
        self.t.wait(ONE_KEY)
        self.t.keys("F4")
        self.touch_and_take_pin()
        self.wait_done(done_after)

    def pulled_mid_touch(self, done_after: int) -> None:
        """The key pulled while it blinks: the kiosk says it keeps the PIN it set; R, the same
        key back through F2 (0, the key just pulled), its reset confirmed, then enrolled."""
        self.next_user()
        self.plug("1")
        self.t.wait(CREDENTIAL_TOUCH)
        self.t.keys("F4")
        self.t.wait("keeps the PIN the kiosk set")
        self.t.keys("r")
        self.t.wait("INSERT A KEY")
        self.plug("0")
        self.t.wait("this kiosk left it so")
        self.reset_then_enroll(done_after)

    def reset_then_enroll(self, done_after: int) -> None:
        """At the reset question: Y; the key pulled and put back if the kiosk asks (a reset is
        only taken soon after the key is inserted), touched for the reset, then enrolled."""
        self.t.keys("y")
        touched = reinserted = False
        deadline = time.monotonic() + 30
        while CREDENTIAL_TOUCH not in (screen := self.t.screen()):
            if "INSERT IT AGAIN" in screen and not reinserted:
                self.t.keys("F4")
                time.sleep(0.5)
                self.plug("0")
                reinserted = True
            elif "TOUCH THE KEY NOW" in screen and not touched:
                self.t.keys("F3")
                touched = True
            assert time.monotonic() < deadline, screen
            time.sleep(0.1)
        self.touch_and_take_pin()
        self.wait_done(done_after)

    def kill_and_restart(self, command: str, done_after: int) -> None:
        """kill -9 of the kiosk while the key blinks for its touch; the same `kiosk demo` with
        the same state directory started again in the same pane: the kiosk names the key left
        in, the operator signs in, confirms its reset and the user is enrolled."""
        self.next_user()
        self.plug("1")
        self.t.wait(CREDENTIAL_TOUCH)
        os.kill(self._kiosk_pid(), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not self.t.dead():
            assert time.monotonic() < deadline, self.t.screen()
            time.sleep(0.1)
        self.t.run("respawn-pane", "-t", self.t.session, command)
        # What the crash recovery found is held until someone signs in (nothing typed at the
        # sign-in is taken by it); then the report, and the reset question for the key left in.
        self.t.wait("Choose your name", timeout=60)
        self.sign_in()
        self.t.wait("must be reset", timeout=60)
        deadline = time.monotonic() + 30
        while "this kiosk left it so" not in (screen := self.t.screen()):
            if "must be reset" in screen:
                self.t.keys("Escape")  # the report closed; the question is not under it yet
            assert time.monotonic() < deadline, screen
            time.sleep(0.5)
        self.reset_then_enroll(done_after)

    def _kiosk_pid(self) -> int:
        """The kiosk's process: the pane's own process (tmux runs the command) or its child."""
        pane = int(self.t.run("display-message", "-p", "-t", self.t.session,
                              "#{pane_pid}").strip())
        for pid in (pane, *_children(pane)):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"kiosk" in cmdline and b"demo" in cmdline:
                return pid
        raise AssertionError(f"no kiosk demo process under pane process {pane}")

    def backup_key(self, upn: str, done: int) -> None:
        """A CSV asking a second key for a user who is done, dropped in the inbox and imported
        from the admin screen (O); the backup key enrolled."""
        (self.state / "inbox" / "backup.csv").write_text(f"upn,keys\n{upn},2\n", encoding="utf-8")
        self.admin()
        self.t.keys("o")
        self.t.wait("backup.csv  (inbox,")
        self.t.keys("Enter")
        self.t.wait("already queued")  # the report line; the backup key is queued for that user
        self.t.keys("Escape")
        self.t.wait("Admin mode")
        self.t.keys("Escape")
        self.t.wait("INSERT A KEY")
        self.plug("1")
        self.touch_and_take_pin()
        self.wait_done(done)  # the backup user was done before and is done again

    def export_and_exit(self) -> None:
        """The manifest exported from the admin screen (E), then the admin's exit."""
        time.sleep(1.0)
        self.admin()
        self.t.keys("e")
        self.t.wait("written:")
        self.t.keys("Escape")
        self.t.wait("WAITING FOR THE QUEUE")  # everyone is done
        self.t.admin_exit()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(c) for c in text)
    return found
