"""The watcher over the virtual port and over (file-backed) hidraw nodes: one key at a time,
more than one key as its own state, cheap when idle."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.keys.errors import KeyPulledError, NoPermissionError
from kiosk.keys.hid import RETRY_SECONDS, RealHidBackend
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.keys.watcher import KeyInserted, KeyRemoved, KeyWatcher, MultipleKeys, WatchEvent


class CountingPort(VirtualPort):
    """The virtual port, counting how often a device is opened."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = 0

    def open(self, descriptor: HidDescriptor) -> CtapHidDevice:
        self.opened += 1
        return super().open(descriptor)


@pytest.fixture
def port() -> Iterator[CountingPort]:
    p = CountingPort()
    yield p
    p.unplug()


def yk() -> VirtualKey:
    return VirtualKey(PROFILES["yubikey5"])


def test_insert_then_idle_then_remove(port: CountingPort) -> None:
    watcher = KeyWatcher(port)
    assert watcher.poll() == []
    key = yk()
    descriptor = port.plug(key)
    assert watcher.poll() == [KeyInserted(descriptor)]
    assert watcher.key == descriptor
    for _ in range(20):
        assert watcher.poll() == []
    port.unplug(key)
    assert watcher.poll() == [KeyRemoved(str(descriptor.path))]
    assert watcher.key is None and watcher.present == []
    assert port.opened == 0  # the watcher never opens a device


def test_key_present_at_start_is_reported(port: CountingPort) -> None:
    descriptor = port.plug(yk())
    assert KeyWatcher(port).poll() == [KeyInserted(descriptor)]


def test_more_than_one_key_is_its_own_state(port: CountingPort) -> None:
    watcher = KeyWatcher(port)
    a, b, c = yk(), yk(), yk()
    da = port.plug(a)
    assert watcher.poll() == [KeyInserted(da)]
    db = port.plug(b)
    assert watcher.poll() == [MultipleKeys(2)]
    assert watcher.key is None
    assert watcher.poll() == []  # reported once, not at every poll
    port.plug(c)
    assert watcher.poll() == [MultipleKeys(3)]
    port.unplug(c)
    events = watcher.poll()
    assert events[-1] == MultipleKeys(2) and isinstance(events[0], KeyRemoved)
    # Back to one key: the kiosk starts over with the key that stayed.
    port.unplug(a)
    assert watcher.poll() == [KeyRemoved(str(da.path)), KeyInserted(db)]
    assert watcher.key == db


def test_two_keys_at_once_never_look_like_one(port: CountingPort) -> None:
    watcher = KeyWatcher(port)
    port.plug(yk())
    port.plug(yk())
    assert watcher.poll() == [MultipleKeys(2)]


def test_reinserted_key_is_a_new_insertion(port: CountingPort) -> None:
    watcher = KeyWatcher(port)
    key = yk()
    first = port.plug(key)
    watcher.poll()
    port.unplug(key)
    second = port.plug(key)
    assert watcher.poll() == [KeyRemoved(str(first.path)), KeyInserted(second)]


def test_run_delivers_events_on_its_thread_until_stopped(port: CountingPort) -> None:
    watcher = KeyWatcher(port, poll_interval=0.01)
    seen: list[WatchEvent] = []
    arrived = threading.Event()

    def callback(event: WatchEvent) -> None:
        seen.append(event)
        if len(seen) == 1:
            raise RuntimeError("a listener bug")  # logged; the watcher keeps going
        arrived.set()

    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop, callback))
    thread.start()
    try:
        key = yk()
        descriptor = port.plug(key)
        deadline = time.monotonic() + 2
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        port.unplug(key)  # the first callback raised: the watcher must still see this
        assert arrived.wait(2)
        assert seen == [KeyInserted(descriptor), KeyRemoved(str(descriptor.path))]
    finally:
        stop.set()
        thread.join(2)
    assert not thread.is_alive()


def test_wait_for_returns_the_event_none_on_timeout_and_on_stop(port: CountingPort) -> None:
    watcher = KeyWatcher(port, poll_interval=0.01)
    key = yk()
    threading.Timer(0.1, port.plug, args=(key,)).start()
    inserted = watcher.wait_for(KeyInserted, timeout=3)
    assert inserted is not None and port.key_at(inserted.path) is key
    started = time.monotonic()
    assert watcher.wait_for(KeyRemoved, timeout=0.1) is None
    assert time.monotonic() - started < 1
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert watcher.wait_for(KeyRemoved, stop=stop) is None
    assert time.monotonic() - started < 1


def test_wait_for_keeps_the_events_it_passes_over(port: CountingPort) -> None:
    """A second key plugged while something waits for another kind of event is still
    reported: the next look returns it, then what happened after."""
    watcher = KeyWatcher(port, poll_interval=0.01)
    first = yk()
    port.plug(first)
    inserted = watcher.wait_for(KeyInserted, timeout=1)
    assert inserted is not None
    port.plug(yk())
    assert watcher.wait_for(KeyRemoved, timeout=0.1) is None
    port.unplug(first)
    events = watcher.poll()
    assert events[0] == MultipleKeys(2)
    assert KeyRemoved(inserted.path) in events[1:]


class FlakyBackend:
    """A HidBackend whose listing fails for a while (e.g. /dev briefly unreadable)."""

    def __init__(self, inner: VirtualPort) -> None:
        self.inner = inner
        self.failing = False

    def list_descriptors(self) -> list[HidDescriptor]:
        if self.failing:
            raise OSError(errno.EIO, "listing failed")
        return self.inner.list_descriptors()

    def open(self, descriptor: HidDescriptor) -> CtapHidDevice:
        return self.inner.open(descriptor)


def test_listing_failure_keeps_the_picture(port: CountingPort) -> None:
    backend = FlakyBackend(port)
    watcher = KeyWatcher(backend)
    descriptor = port.plug(yk())
    watcher.poll()
    backend.failing = True
    assert watcher.poll() == []
    assert watcher.key == descriptor  # no false removal
    backend.failing = False
    assert watcher.poll() == []


# -- the real hidraw backend, over files standing in for /dev/hidraw* -------------------------


class Nodes:
    """Files named like hidraw nodes, and the descriptor reader the backend calls for them."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.kinds: dict[str, str] = {}
        self.reads: list[str] = []

    def add(self, name: str, kind: str = "fido") -> str:
        path = self.dir / name
        path.write_bytes(b"")
        self.kinds[str(path)] = kind
        return str(path)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def reader(self, path: str) -> HidDescriptor:
        self.reads.append(path)
        kind = self.kinds[path]
        if kind == "keyboard":
            raise ValueError("Not a FIDO device")
        if kind == "no-access":
            raise PermissionError(errno.EACCES, "Permission denied")
        return HidDescriptor(path, 0x1050, 0x0407, 64, 64, "YubiKey", None)


@pytest.fixture
def nodes(tmp_path: Path) -> Nodes:
    return Nodes(tmp_path)


def test_real_backend_reads_each_node_once(nodes: Nodes) -> None:
    key = nodes.add("hidraw0")
    nodes.add("hidraw1", "keyboard")
    backend = RealHidBackend(str(nodes.dir / "hidraw*"), reader=nodes.reader)
    watcher = KeyWatcher(backend)
    events = watcher.poll()
    assert [type(e) for e in events] == [KeyInserted] and events[0].path == key  # type: ignore[union-attr]
    for _ in range(50):
        assert watcher.poll() == []
    assert sorted(nodes.reads) == sorted(nodes.kinds)  # 2 reads in 51 polls
    nodes.remove(key)
    assert watcher.poll() == [KeyRemoved(key)]


def test_real_backend_rereads_a_recreated_node(nodes: Nodes) -> None:
    path = nodes.add("hidraw3")
    nodes.add("hidraw30")
    backend = RealHidBackend(str(nodes.dir / "hidraw*"), reader=nodes.reader)
    backend.list_descriptors()
    # Between two polls the node goes and a new one takes its name (another key, or the same
    # one re-enumerated): a new inode, so its descriptor is read again.
    nodes.add("hidraw3.new")
    os.replace(nodes.dir / "hidraw3.new", path)
    backend.list_descriptors()
    assert sorted(nodes.reads) == sorted([path, path, str(nodes.dir / "hidraw30")])
    assert RealHidBackend(str(nodes.dir / "absent" / "hidraw*")).list_descriptors() == []


def test_real_backend_retries_a_node_it_could_not_open_yet(nodes: Nodes) -> None:
    now = [0.0]
    path = nodes.add("hidraw0", "no-access")
    backend = RealHidBackend(str(nodes.dir / "hidraw*"), reader=nodes.reader, clock=lambda: now[0])
    assert backend.list_descriptors() == []
    assert backend.list_descriptors() == []
    assert len(nodes.reads) == 1  # not hammered at every poll
    nodes.kinds[path] = "fido"  # udev set the permissions
    now[0] += RETRY_SECONDS
    assert [d.path for d in backend.list_descriptors()] == [path]


def test_real_backend_open_maps_pulled_and_permission(nodes: Nodes) -> None:
    path = nodes.add("hidraw0")

    def refuse(descriptor: HidDescriptor) -> CtapHidDevice:
        raise PermissionError(errno.EACCES, "Permission denied")

    def vanish(descriptor: HidDescriptor) -> CtapHidDevice:
        raise OSError(errno.ENODEV, "No such device")

    descriptor = HidDescriptor(path, 0x1050, 0x0407, 64, 64, "YubiKey", None)
    with pytest.raises(NoPermissionError) as caught:
        RealHidBackend(reader=nodes.reader, connect=refuse).open(descriptor)
    assert "udev" in caught.value.next_step
    with pytest.raises(KeyPulledError):
        RealHidBackend(reader=nodes.reader, connect=vanish).open(descriptor)
    nodes.remove(path)
    with pytest.raises(KeyPulledError):
        RealHidBackend(reader=nodes.reader).open(descriptor)
