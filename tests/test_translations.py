"""Every action field, selector and error the integration raises has an English text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.wsd_scan import services
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE
from custom_components.wsd_scan.wsd import ErrorKind

PACKAGE = Path(services.__file__).parent
TRANSLATIONS: dict[str, Any] = json.loads(
    (PACKAGE / "translations" / "en.json").read_text(encoding="utf-8")
)
SERVICES = load_yaml_dict(str(PACKAGE / "services.yaml"))


def fields(service: dict[str, Any]) -> dict[str, Any]:
    """Return a service's fields, those inside sections included."""
    found = {}
    for name, field in service["fields"].items():
        found.update(field.get("fields", {name: field}))
    return found


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_action_texts(service: str) -> None:
    """Each action, field and section has a name and description; selectors options."""
    text = TRANSLATIONS["services"][service]
    assert text["name"] and text["description"]
    sections = {
        name for name, field in SERVICES[service]["fields"].items() if "fields" in field
    }
    assert set(text.get("sections", {})) == sections
    assert set(text["fields"]) == set(fields(SERVICES[service]))
    for name, field in fields(SERVICES[service]).items():
        assert text["fields"][name]["name"] and text["fields"][name]["description"]
        select = field["selector"].get("select")
        if select is not None:
            options = TRANSLATIONS["selector"][select["translation_key"]]["options"]
            assert set(select["options"]) <= set(options)


def test_schema_and_services_yaml_agree() -> None:
    """The action accepts exactly the fields services.yaml shows."""
    accepted = {str(key) for key in services.SCAN_SCHEMA.schema}
    assert accepted == set(fields(SERVICES[services.SERVICE_SCAN]))


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_scan_error_is_translated(kind: ErrorKind) -> None:
    """A failed scan raises `scan_<kind>`, or `scan_<kind>_pages_saved` with pages."""
    assert "{pages}" not in TRANSLATIONS["exceptions"][f"scan_{kind}"]["message"]
    saved = TRANSLATIONS["exceptions"][f"scan_{kind}_pages_saved"]["message"]
    assert saved.endswith("Pages saved before the error: {pages} ({files}).")


def test_profile_subentries_are_named() -> None:
    """The entry page names panel profiles and offers to add one."""
    strings = TRANSLATIONS["config_subentries"][SUBENTRY_PROFILE]
    assert strings["entry_type"]
    assert strings["initiate_flow"]["user"]
    assert set(strings["step"]) == {"user", "reconfigure"}
