"""A session key with something around or inside it (:mod:`synco_core.receive.keytext`): refused in one line
that names what is wrong and shows no part of the key."""

from __future__ import annotations

import pytest

from synco_core import age
from synco_core.errors import ConfigError
from synco_core.receive.keytext import check_key_text

#: ``AGE-SECRET-KEY-1`` and 58 bech32 characters.
KEY_LENGTH = 74


@pytest.fixture(scope="module")
def key() -> str:
    secret = age.generate_identity().to_string()
    assert len(secret) == KEY_LENGTH
    return secret


def shows_part_of(line: str, key: str) -> bool:
    """True when ``line`` holds any 6 characters of the key's secret part, in either case."""
    secret, line = key[len("AGE-SECRET-KEY-1"):].lower(), line.lower()
    return any(secret[start:start + 6] in line for start in range(len(secret) - 5))


@pytest.mark.parametrize("inside", [" ", "\n", "\r\n", "b", "-", "\u200b", "'", "1"],
                         ids=["space", "line-break", "crlf", "not-bech32", "hyphen", "zero-width", "quote", "one"])
def test_a_key_broken_inside_is_refused_without_showing_its_tail(key: str, inside: str) -> None:
    """A key with a line break, a space or a mistyped character inside one argument had everything after the
    break quoted in the error ('the key has ' 88XN26...' after the key'): most of the secret, on the screen
    and in the shell's scroll-back."""
    for split in range(len("AGE-SECRET-KEY-1") + 1, KEY_LENGTH - 1):
        for text in (key[:split] + inside + key[split:], f"\u201c{key[:split]}{inside}{key[split:]}\u201d"):
            with pytest.raises(ConfigError) as raised:
                check_key_text(text)
            line = str(raised.value)
            assert not shows_part_of(line, key), line
            assert "\n" not in line


def test_text_around_the_key_that_may_be_key_material_is_counted_not_shown(key: str) -> None:
    other = age.generate_identity().to_string()
    for text in (f"{key} {other}", f"{other[:40]} {key}", f"{key}.{other[20:]}"):
        with pytest.raises(ConfigError) as raised:
            check_key_text(text)
        assert not shows_part_of(str(raised.value), key) and not shows_part_of(str(raised.value), other)


@pytest.mark.parametrize(("text", "said"), [
    ("\u201c{}\u201d", "the key has '\u201c' before and '\u201d' after"), ("#{}", "the key has '#' before"),
    ("{}.", "the key has '.' after"), ("key: {}", "the key has 'key: ' before"),
    ("{}\u200b", "the key has '\\u200b' after"),
])
def test_what_a_chat_adds_around_the_key_is_still_named(key: str, text: str, said: str) -> None:
    with pytest.raises(ConfigError, match="added when it was copied") as raised:
        check_key_text(text.format(key))
    assert said in str(raised.value), raised.value


def test_the_key_alone_and_passphrases_pass(key: str) -> None:
    check_key_text(key)
    check_key_text(f"  {key.lower()}\n")
    check_key_text("correct horse battery staple")
