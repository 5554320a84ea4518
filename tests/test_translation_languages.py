"""Every translation has English's keys in English's order, no others, the same placeholders.

The dashboard card's own words are checked here too.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

TRANSLATIONS = (
    Path(__file__).parent.parent / "custom_components" / "wsd_scan" / "translations"
)
REQUIRED_LANGUAGES = ("de", "fr", "es", "nl", "it", "pl")
LANGUAGES = sorted(
    path.stem for path in TRANSLATIONS.glob("*.json") if path.stem != "en"
)
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def load(language: str) -> dict[str, Any]:
    """Return a language's translations as parsed JSON."""
    data: dict[str, Any] = json.loads(
        (TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8")
    )
    return data


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Return the strings of a translation tree by their dotted key paths."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def placeholders(text: str) -> set[str]:
    """Return the names of the `{placeholders}` in a string."""
    return set(PLACEHOLDER.findall(text))


ENGLISH = flatten(load("en"))


def test_required_languages_exist() -> None:
    """German, French, Spanish, Dutch, Italian and Polish are translated."""
    missing = [language for language in REQUIRED_LANGUAGES if language not in LANGUAGES]
    assert not missing, f"no translations for: {', '.join(missing)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_missing_keys(language: str) -> None:
    """A translation has every key English has."""
    missing = sorted(ENGLISH.keys() - flatten(load(language)).keys())
    assert not missing, f"{language}.json lacks: {', '.join(missing)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_extra_keys(language: str) -> None:
    """A translation has no key that English lacks."""
    extra = sorted(flatten(load(language)).keys() - ENGLISH.keys())
    assert not extra, f"{language}.json has keys English lacks: {', '.join(extra)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_strings(language: str) -> None:
    """Every translated value is a non-empty string."""
    wrong = sorted(
        key
        for key, text in flatten(load(language)).items()
        if not isinstance(text, str) or not text.strip()
    )
    assert not wrong, f"{language}.json has empty or non-string values: {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_same_placeholders(language: str) -> None:
    """A translated string has exactly the `{placeholders}` of the English one."""
    translated = flatten(load(language))
    differing = [
        f"{key}: {sorted(placeholders(translated[key]))} instead of "
        f"{sorted(placeholders(english))}"
        for key, english in sorted(ENGLISH.items())
        if isinstance(translated.get(key), str)
        and placeholders(translated[key]) != placeholders(english)
    ]
    assert not differing, f"{language}.json placeholders differ: " + "; ".join(
        differing
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_same_order(language: str) -> None:
    """A translation lists its keys in English's order, so files compare side by side."""
    translated = flatten(load(language))
    shared = [key for key in ENGLISH if key in translated]
    assert [key for key in translated if key in ENGLISH] == shared


#: The dashboard card's own words: a JSON object in a JavaScript module.
CARD_STRINGS = TRANSLATIONS.parent / "frontend" / "strings.js"
CARD_TRANSLATIONS = re.compile(
    r"^const TRANSLATIONS = (\{.*?^\});$", re.DOTALL | re.MULTILINE
)


def card_words() -> dict[str, dict[str, Any]]:
    """Return the card's words by language."""
    found = CARD_TRANSLATIONS.search(CARD_STRINGS.read_text(encoding="utf-8"))
    assert found, f"no `const TRANSLATIONS = {{…}};` in {CARD_STRINGS.name}"
    words: dict[str, dict[str, Any]] = json.loads(found[1])
    return words


def test_the_card_speaks_every_language() -> None:
    """The card has every word in the integration's languages.

    Each counted word has its singular and general plural (Intl.PluralRules' `one`
    and `other`).
    """
    words = card_words()
    assert sorted(words) == sorted(["en", *LANGUAGES])
    english = words["en"]
    for language, translated in words.items():
        assert translated.keys() == english.keys(), language
        for key, word in translated.items():
            assert type(word) is type(english[key]), f"{language}: {key}"
            if isinstance(word, dict):
                assert {"one", "other"} <= word.keys(), f"{language}: {key}"
