"""The rules Home Assistant's hassfest applies to a custom integration's files.

hassfest (`script/hassfest` in Home Assistant core, run by the Validate workflow) checks
the manifest's keys and order, services.yaml against translations and icons.json, the
shape of the config flow's strings, and quality_scale.yaml's rule names and statuses.
These tests apply the same rules locally, so a change that the workflow would reject
fails here first.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.wsd_scan.const import DOMAIN

INTEGRATION = Path(__file__).parent.parent / "custom_components" / DOMAIN
MANIFEST: dict[str, Any] = json.loads((INTEGRATION / "manifest.json").read_text())
TRANSLATIONS: dict[str, Any] = json.loads(
    (INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8")
)
ICONS: dict[str, Any] = json.loads((INTEGRATION / "icons.json").read_text())
SERVICES = load_yaml_dict(str(INTEGRATION / "services.yaml"))
HA_SHIPPED = {"aiohttp", "zeroconf", "pillow"}

#: The keys a custom integration's manifest may have (hassfest rejects any other).
MANIFEST_KEYS = {
    "domain",
    "name",
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "documentation",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}

#: The Integration Quality Scale's rules, by tier
#: (https://developers.home-assistant.io/docs/core/integration-quality-scale/rules).
QUALITY_SCALE_RULES = {
    # Bronze
    "action-setup",
    "appropriate-polling",
    "brands",
    "common-modules",
    "config-flow",
    "config-flow-test-coverage",
    "dependency-transparency",
    "docs-actions",
    "docs-conditions",
    "docs-high-level-description",
    "docs-installation-instructions",
    "docs-removal-instructions",
    "docs-triggers",
    "entity-event-setup",
    "entity-unique-id",
    "has-entity-name",
    "runtime-data",
    "test-before-configure",
    "test-before-setup",
    "unique-config-entry",
    # Silver
    "action-exceptions",
    "config-entry-unloading",
    "docs-configuration-parameters",
    "docs-installation-parameters",
    "entity-unavailable",
    "integration-owner",
    "log-when-unavailable",
    "parallel-updates",
    "reauthentication-flow",
    "test-coverage",
    # Gold
    "devices",
    "diagnostics",
    "discovery",
    "discovery-update-info",
    "docs-data-update",
    "docs-examples",
    "docs-known-limitations",
    "docs-supported-devices",
    "docs-supported-functions",
    "docs-troubleshooting",
    "docs-use-cases",
    "dynamic-devices",
    "entity-category",
    "entity-device-class",
    "entity-disabled-by-default",
    "entity-translations",
    "exception-translations",
    "icon-translations",
    "reconfiguration-flow",
    "repair-issues",
    "stale-devices",
    # Platinum
    "async-dependency",
    "inject-websession",
    "strict-typing",
}

#: The top-level sections of an integration's strings.
TRANSLATION_SECTIONS = {
    "title",
    "config",
    "config_subentries",
    "options",
    "selector",
    "services",
    "entity",
    "entity_component",
    "device",
    "device_automation",
    "exceptions",
    "issues",
    "system_health",
}
#: What a step of a config, options or subentry flow may hold.
STEP_KEYS = {
    "title",
    "description",
    "data",
    "data_description",
    "sections",
    "menu_options",
    "menu_option_descriptions",
    "submit",
}
SECTION_KEYS = {"name", "description", "data", "data_description"}
#: What a flow's strings may hold besides its steps.
FLOW_KEYS = {"flow_title", "step", "error", "abort", "progress", "create_entry"}
SUBENTRY_KEYS = {*FLOW_KEYS, "entry_type", "initiate_flow"}
ICON = re.compile(r"mdi:[a-z0-9]+(?:-[a-z0-9]+)*")
HTML = re.compile(r"<[a-zA-Z/][^>]*>")
#: A translation key: lowercase letters, digits, `-` and `_`, no doubled or edge separators.
TRANSLATION_KEY = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


def strings(tree: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield each leaf of the strings and where it is."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from strings(value, f"{path}/{key}")
    else:
        yield path, tree


def service_fields(service: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Return a service's fields (those in sections included) and its sections."""
    fields: set[str] = set()
    sections: set[str] = set()
    for name, field in service.get("fields", {}).items():
        if "fields" in field:
            sections.add(name)
            fields |= set(field["fields"])
        else:
            fields.add(name)
    return fields, sections


def test_manifest_keys_and_order() -> None:
    """Known keys only; domain, name, then alphabetical; values hassfest accepts."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert set(keys) <= MANIFEST_KEYS
    assert MANIFEST["domain"] == INTEGRATION.name
    assert MANIFEST["integration_type"] in INTEGRATION_TYPES
    assert MANIFEST["iot_class"] in IOT_CLASSES
    assert MANIFEST["codeowners"]
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"])
    # A custom integration documents itself, over https, not on home-assistant.io.
    assert MANIFEST["documentation"].startswith("https://")
    assert "home-assistant.io" not in MANIFEST["documentation"]
    assert MANIFEST["issue_tracker"].startswith("https://")
    assert AwesomeVersion(MANIFEST["version"]).valid
    assert set(MANIFEST["zeroconf"]) >= {"_uscan._tcp.local.", "_uscans._tcp.local."}


def test_discovery_has_a_config_flow_that_sets_a_unique_id() -> None:
    """Zeroconf in the manifest needs a config flow step and a unique id (hassfest)."""
    assert MANIFEST["config_flow"] is True
    config_flow = (INTEGRATION / "config_flow.py").read_text()
    assert "async def async_step_zeroconf(" in config_flow
    assert "self.async_set_unique_id(" in config_flow


def test_manifest_does_not_pin_what_home_assistant_ships() -> None:
    """aiohttp, zeroconf and Pillow come from Home Assistant itself."""
    names = {
        re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()
        for requirement in MANIFEST["requirements"]
    }
    assert not names & HA_SHIPPED


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_action_has_its_icons(service: str) -> None:
    """icons.json gives each action in services.yaml an icon, and each section."""
    _, sections = service_fields(SERVICES[service])
    icons = ICONS["services"][service]
    assert ICON.fullmatch(icons["service"])
    assert set(icons.get("sections", {})) == sections
    assert all(ICON.fullmatch(icon) for icon in icons.get("sections", {}).values())


def test_icons_name_only_what_exists() -> None:
    """No icon for an action or entity that is gone; every icon an mdi: name."""
    assert set(ICONS["services"]) == set(SERVICES)
    for platform, entities in ICONS["entity"].items():
        for key, icons in entities.items():
            assert key in TRANSLATIONS["entity"][platform], f"{platform}.{key}"
            translated_states = TRANSLATIONS["entity"][platform][key].get("state")
            if translated_states is not None:
                assert set(icons.get("state", {})) <= set(translated_states)
    for path, icon in strings(ICONS):
        assert ICON.fullmatch(icon), path
    for entities in ICONS["entity"].values():
        for key, icons in entities.items():
            # hassfest: a state's icon equal to the default is redundant.
            assert icons["default"] not in icons.get("state", {}).values(), key


def test_translation_strings_are_plain() -> None:
    """Known sections; every string is text hassfest accepts.

    No HTML, no surrounding spaces, no quoted placeholders ('{name}'), and no
    `[%key:…%]` references: those are resolved only in core's strings.json.
    """
    assert set(TRANSLATIONS) <= TRANSLATION_SECTIONS
    for path, text in strings(TRANSLATIONS):
        assert isinstance(text, str), path
        assert text == text.strip(), path
        assert not HTML.search(text), path
        assert not re.search(r"'\{[^{}]*\}'", text), path
        assert "[%key:" not in text, path


def translation_keys() -> Iterator[tuple[str, str]]:
    """Yield the keys the code refers to strings by, and where they are."""
    for platform, entities in TRANSLATIONS.get("entity", {}).items():
        for key, entity in entities.items():
            yield f"entity/{platform}", key
            for state in entity.get("state", {}):
                yield f"entity/{platform}/{key}/state", state
    for key, selector in TRANSLATIONS.get("selector", {}).items():
        yield "selector", key
        for option in selector["options"]:
            yield f"selector/{key}/options", option
    for service, text in TRANSLATIONS.get("services", {}).items():
        yield "services", service
        for group in ("fields", "sections"):
            for key in text.get(group, {}):
                yield f"services/{service}/{group}", key
    for group in ("exceptions", "issues"):
        for key in TRANSLATIONS.get(group, {}):
            yield group, key


@pytest.mark.parametrize(("where", "key"), list(translation_keys()))
def test_translation_keys(where: str, key: str) -> None:
    """Keys are lowercase slugs, as the frontend and hassfest expect."""
    assert TRANSLATION_KEY.fullmatch(key), f"{where}/{key}"


def test_issues_say_what_to_do() -> None:
    """A repair issue has a title and either a description or a fix flow."""
    for key, issue in TRANSLATIONS.get("issues", {}).items():
        assert issue["title"], key
        assert ("description" in issue) != ("fix_flow" in issue), key
        assert set(issue) <= {"title", "description", "fix_flow"}, key


def flows() -> Iterator[tuple[str, dict[str, Any], set[str]]]:
    """Yield the strings of the config, options, subentry and fix flows."""
    yield "config", TRANSLATIONS["config"], FLOW_KEYS
    if "options" in TRANSLATIONS:
        yield "options", TRANSLATIONS["options"], FLOW_KEYS
    for name, flow in TRANSLATIONS.get("config_subentries", {}).items():
        yield f"config_subentries/{name}", flow, SUBENTRY_KEYS
    for name, issue in TRANSLATIONS.get("issues", {}).items():
        if "fix_flow" in issue:
            yield f"issues/{name}/fix_flow", issue["fix_flow"], FLOW_KEYS


@pytest.mark.parametrize(
    ("name", "flow", "allowed"), list(flows()), ids=[name for name, *_ in flows()]
)
def test_flow_strings(name: str, flow: dict[str, Any], allowed: set[str]) -> None:
    """Steps hold only what the frontend shows; field help only for fields it has."""
    assert set(flow) <= allowed
    for step_id, step in flow.get("step", {}).items():
        where = f"{name}/step/{step_id}"
        assert set(step) <= STEP_KEYS, where
        assert set(step.get("data_description", {})) <= set(step.get("data", {})), where
        assert set(step.get("menu_option_descriptions", {})) <= set(
            step.get("menu_options", {})
        ), where
        for section_id, section in step.get("sections", {}).items():
            assert set(section) <= SECTION_KEYS, f"{where}/sections/{section_id}"
            assert set(section.get("data_description", {})) <= set(
                section.get("data", {})
            ), f"{where}/sections/{section_id}"


def test_quality_scale_names_every_rule_with_a_status() -> None:
    """Every rule of the quality scale, no other; exempt ones say why."""
    rules = load_yaml_dict(str(INTEGRATION / "quality_scale.yaml"))["rules"]
    assert set(rules) == QUALITY_SCALE_RULES
    for rule, value in rules.items():
        entry = value if isinstance(value, dict) else {"status": value}
        assert set(entry) <= {"status", "comment"}, rule
        assert entry["status"] in {"done", "todo", "exempt"}, rule
        if entry["status"] == "exempt":
            assert entry.get("comment"), rule
