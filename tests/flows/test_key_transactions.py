"""The CTAP transactions of each enrollment path, counted on the virtual key.

The virtual key logs every request it answers (:mod:`kiosk.keys.virtual.transactions`). Each
path below runs the real engine over the virtual key and the fake tenant, and its transactions
must be exactly the minimal set (issue 14): one getInfo per insertion and after a reset or a
config change, the serial (YubiKey management read), one key agreement per insertion (the
shared secret is reused: CTAP 2.1 section 6.5.5.4 keeps the authenticator's key-agreement key
for the whole power cycle unless a wrong PIN regenerates it), setPIN, a token with exactly
``mc`` bound to the rp id, makeCredential, a token with exactly ``acfg`` (makeCredential's
user presence cleared the first token's permissions, section 6.5.5.7), authenticatorConfig.
No getPINRetries where the PIN state is known. A transaction that comes back fails the test,
which prints the whole list.
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.enroll.events import Event, Prompt, PromptChanged
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.transactions import MINIMAL_PATHS
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _same(names: list[str], path: str) -> None:
    """The transactions, in order; the message lists both sides to show what came back."""
    expected = list(MINIMAL_PATHS[path])
    assert names == expected, f"{len(names)} transactions: {names}; expected {expected}"


def _enroll(rig: EngineRig, key: VirtualKey) -> list[str]:
    rig.robot(iter([key]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE, result.reason
    return key.transactions.names()


def _no_redundancy(names: list[str], insertions: int) -> None:
    """Rules any path keeps, checked apart from the table: one key agreement (the last
    insertion's), each token asked with one permission, no PIN retries read after a PIN set."""
    assert names.count("clientPIN.getKeyAgreement") == 1
    tokens = [n for n in names if n.startswith("clientPIN.getPinUvAuthToken")]
    assert all("+" not in n for n in tokens)
    assert names.count("vendor.readConfig") <= insertions
    if "clientPIN.setPIN" in names:
        assert "clientPIN.getPINRetries" not in names[names.index("clientPIN.setPIN") :]


def test_new_key(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig()
    rig.add_users(1)
    names = _enroll(rig, rig.key())
    _same(names, "new_key")
    _no_redundancy(names, insertions=1)
    assert len(names) <= 9
    assert names.count("getInfo") == 2  # the insertion's, and after the PIN policy


def test_key_with_an_operator_typed_pin(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(pin_source="operator")
    rig.add_users(1)

    def operator(event: Event) -> None:
        if isinstance(event, PromptChanged) and event.prompt is Prompt.TYPE_PIN:
            rig.engine.provide_pin("73915824")

    rig.engine.subscribe(operator)
    names = _enroll(rig, rig.key())
    _same(names, "operator_pin")
    _no_redundancy(names, insertions=1)


def test_used_key_reset_in_its_window(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="automatic")
    rig.add_users(1)
    names = _enroll(rig, rig.key("used"))
    _same(names, "reset_in_window")
    _no_redundancy(names, insertions=1)


def test_used_key_reset_after_a_reinsert(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="automatic")
    rig.add_users(1)
    used = rig.key("used")
    used.authenticator.reset_window = 0.0  # the first insertion's window has passed

    def reinsert(event: Event) -> None:
        if isinstance(event, PromptChanged) and event.prompt is Prompt.REINSERT_KEY:
            used.authenticator.reset_window = 10.0
            rig.port.unplug(used)
            rig.port.plug(used)

    rig.engine.subscribe(reinsert)
    names = _enroll(rig, used)
    _same(names, "reset_path")
    _no_redundancy(names, insertions=2)


def test_ctap20_key_without_authenticator_config(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(pin_policy="optional")
    rig.add_users(1)
    names = _enroll(rig, rig.key("ctap20"))
    _same(names, "ctap20_key")  # no serial, no permissions (getPinToken), no config
    _no_redundancy(names, insertions=1)
