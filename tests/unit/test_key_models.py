"""The virtual keys report what real keys of the model and firmware they imitate report, and the
built-in model table names those AAGUIDs as the vendor does.

YUBICO is an excerpt of Yubico's published list "YubiKey Hardware FIDO2 AAGUIDs"
(https://support.yubico.com/hc/en-us/articles/360016648959, short link https://yubi.co/aaguids):
product, firmware, AAGUID. Copying the admin guide's ``allowed_aaguids`` must let the demo's
"YubiKey 5 NFC, firmware 5.7" through (it reported a YubiKey 5 without NFC's AAGUID before).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from kiosk.keys.identity import builtin_models
from kiosk.keys.virtual.profiles import PROFILES, YUBICO_VID

YUBICO: tuple[tuple[str, str, str], ...] = (
    ("YubiKey 5", "5.1", "cb69481e-8ff7-4039-93ec-0a2729a154a8"),
    ("YubiKey 5", "5.2", "ee882879-721c-4913-9775-3dfcce97072a"),
    ("YubiKey 5", "5.4", "ee882879-721c-4913-9775-3dfcce97072a"),
    ("YubiKey 5", "5.7", "19083c3d-8383-4b18-bc03-8f1c9ab2fd1b"),
    ("YubiKey 5 NFC", "5.1", "fa2b99dc-9e39-4257-8f92-4a30d23c4118"),
    ("YubiKey 5 NFC", "5.2", "2fc0579f-8113-47ea-b116-bb5a8db9202a"),
    ("YubiKey 5 NFC", "5.4", "2fc0579f-8113-47ea-b116-bb5a8db9202a"),
    ("YubiKey 5 NFC", "5.7", "a25342c0-3cdc-4414-8e46-f4807fca511c"),
)
ROOT = Path(__file__).resolve().parents[2]


def _claimed(description: str) -> tuple[str, str] | None:
    """(product, firmware major.minor) a profile's description claims, e.g. "YubiKey 5 NFC,
    firmware 5.7"; None for a profile that imitates no named product."""
    found = re.match(r"(YubiKey 5(?: NFC)?), firmware (\d+\.\d+)", description)
    return (found.group(1), found.group(2)) if found else None


def test_each_yubikey_profile_reports_its_models_published_aaguid() -> None:
    checked = 0
    for profile in PROFILES.values():
        claimed = _claimed(profile.description)
        if profile.vid != YUBICO_VID or claimed is None:
            continue
        published = {aaguid for product, fw, aaguid in YUBICO if (product, fw) == claimed}
        assert published, f"{profile.name}: {claimed} is not in the excerpt of Yubico's list"
        assert str(profile.aaguid) in published, profile.name
        assert ".".join(map(str, profile.firmware[:2])) == claimed[1]
        checked += 1
    assert checked >= 1, "no profile imitates a named YubiKey"


def test_the_model_table_names_yubikeys_as_published() -> None:
    table = builtin_models()
    for product, _firmware, aaguid in YUBICO:
        assert aaguid in table, aaguid
        named = table[aaguid]
        with_nfc = "NFC" in product
        assert named.startswith("YubiKey 5") and ("NFC" in named) == with_nfc, (aaguid, named)


def test_the_demo_key_passes_the_admin_guides_allowed_aaguids() -> None:
    guide = (ROOT / "docs" / "admin-guide.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"YubiKey 5 NFC firmware[^`]*`([0-9a-f-]{36})`", guide))
    documented |= set(re.findall(r"5\.7:\s*`([0-9a-f-]{36})`", guide))
    demo = PROFILES["yubikey5"]
    assert str(demo.aaguid) in documented
    assert builtin_models()[str(demo.aaguid)] == "YubiKey 5 NFC"
    shipped = json.loads(resources.files("kiosk.keys").joinpath("models.json").read_text())
    assert shipped["models"][str(demo.aaguid)] == "YubiKey 5 NFC"
