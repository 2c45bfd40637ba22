"""Files in and out (issue 11 item 12), through the admin screen: O lists the CSV files of the
inbox and of the USB stick, Enter imports one, W writes the manifest to the stick, U has the
stick unmounted and says when it may be pulled."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from kiosk.tui.screens.files import FilesScreen
from tests.fixtures.tui import admin_mode, kiosk_app, run_async, screen_text, wait_for_text
from tests.tui.usb_stick import FolderStick

SIZE = (120, 36)


def _new_user_csv(env: Any, path: Path, name: str) -> str:
    upn = f"{name}@{env.tenant.state.domain}"
    env.tenant.state.add_user(upn, name.title())
    path.write_text(f"upn\n{upn}\n", encoding="utf-8")
    return upn


@run_async
async def test_o_lists_the_inbox_csv_files_and_says_no_stick(demo_env: Any) -> None:
    env = demo_env(users=1)
    inbox = Path(env.settings.store.inbox)
    upn = _new_user_csv(env, inbox / "monday.csv", "new.starter")
    (inbox / "notes.txt").write_text("not a CSV file")
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await admin_mode(pilot)
        await pilot.press("o")
        await wait_for_text(pilot, "FILES IN AND OUT")
        await wait_for_text(pilot, "monday.csv  (inbox,")
        text = screen_text(app)
        assert "notes.txt" not in text
        assert "no USB stick (plug one labelled KIOSKUSB)" in text
        await pilot.press("enter")
        await wait_for_text(pilot, "1 added")
    assert env.engine.queue_page(0, 5, search=upn)[0].upn == upn


@run_async
async def test_the_stick_csv_imports_the_manifest_goes_to_it_and_it_is_unmounted(
    demo_env: Any, tmp_path: Path
) -> None:
    env = demo_env(users=2)
    mount = tmp_path / "kioskusb"
    mount.mkdir()
    upn = _new_user_csv(env, mount / "batch.csv", "from.the.stick")
    (mount / ".hidden.csv").write_text("upn\nnobody@example.com\n")
    os.symlink("/etc/passwd", mount / "link.csv")
    stick = FolderStick(mount, tmp_path / "eject-usb")
    app = kiosk_app(env)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await admin_mode(pilot)
            app.push_screen(FilesScreen(app.engine, app.settings, stick))
            await wait_for_text(pilot, "batch.csv  (USB stick,")
            text = screen_text(app)
            assert ".hidden.csv" not in text and "link.csv" not in text
            assert f"USB stick at {mount}: mounted" in text
            await pilot.press("enter")
            await wait_for_text(pilot, "1 added")
            await pilot.press("w")
            await wait_for_text(pilot, "written:")
            manifests = sorted(mount.glob("manifest-*.csv"))
            assert len(manifests) == 1
            with manifests[0].open(encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
            assert upn in [r["upn"] for r in rows]  # every user of the batch, this one too
            await pilot.press("u")
            await wait_for_text(pilot, "you can pull it now")
            assert stick.requests == 1 and not mount.exists()
            assert not (tmp_path / "eject-usb").exists()
            await wait_for_text(pilot, "no USB stick")
            # The manifest went with the stick.
            assert list((tmp_path / "kioskusb-pulled").glob("manifest-*.json"))
    finally:
        stick.close()


@run_async
async def test_a_stick_that_stays_mounted_is_not_said_to_be_safe_to_pull(
    demo_env: Any, tmp_path: Path
) -> None:
    env = demo_env(users=1)
    mount = tmp_path / "kioskusb"
    mount.mkdir()
    stick = FolderStick(mount, tmp_path / "eject-usb", unit_works=False)
    app = kiosk_app(env)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await admin_mode(pilot)
            app.push_screen(FilesScreen(app.engine, app.settings, stick))
            await wait_for_text(pilot, "mounted")
            original = stick.eject
            stick.eject = lambda timeout=15.0, poll=0.2: original(0.5, 0.05)  # type: ignore[method-assign]
            await pilot.press("u")
            await wait_for_text(pilot, "still mounted: do not pull it")
            assert "you can pull it now" not in screen_text(app)
    finally:
        stick.close()
