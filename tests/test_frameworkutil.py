"""Tests of the helpers framework plugins share: dotenv parsing, PHP lookup, running commands."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

import pytest

from synco_core.errors import ConfigError
from synco_core.frameworkutil import FrameworkCommandError, find_php, load_dotenv_files, parse_dotenv, run_command
from synco_core.redaction import register_secret
from synco_core.testing.services import needs_php
from synco_core.values import DumpOptions


def test_dotenv_syntax() -> None:
    text = (
        "# comment\n"
        "export A=1\n"
        'B="x ${A} \\$A \\n y"\n'
        "C='lit ${A}'\n"
        "D=plain value # comment\n"
        'E="multi\nline"\n'
        "F=${MISSING:-def}/${A}\n"
        "G=$A$A\n"
        "H=\n"
        "I=a#b\n"
        "J=${NEW:=made}\n"
        "K=$NEW\r\n"
    )
    values = parse_dotenv(text, environ={})
    assert values == {
        "A": "1",
        "B": "x 1 $A \n y",
        "C": "lit ${A}",
        "D": "plain value",
        "E": "multi\nline",
        "F": "def/1",
        "G": "11",
        "H": "",
        "I": "a#b",
        "J": "made",
        "NEW": "made",
        "K": "made",
    }


def test_dotenv_environment_wins_in_references_and_values(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DB_PASSWORD=file\nURL=mysql://u:${DB_PASSWORD}@h/db\nOTHER=1\n")
    (tmp_path / ".env.local").write_text("OTHER=2\n")
    values = load_dotenv_files([tmp_path / ".env", tmp_path / ".env.local", tmp_path / "missing"],
                               environ={"DB_PASSWORD": "env"})
    assert values == {"DB_PASSWORD": "env", "URL": "mysql://u:env@h/db", "OTHER": "2"}
    mutable = load_dotenv_files([tmp_path / ".env"], environ={"DB_PASSWORD": "env"}, override_environment=True)
    assert mutable["DB_PASSWORD"] == "file" and mutable["URL"] == "mysql://u:file@h/db"


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        # Symfony Dotenv: "$NAME" is a reference too, an undefined one is empty.
        ("symfony", {"A": "abc", "B": "pa 1", "C": "", "D": "d", "E": "p$1"}),
        # vlucas/phpdotenv 5 (Laravel): only "${NAME}"; the rest, and an undefined "${NAME}", stay as written.
        ("phpdotenv", {"A": "abc$xyz", "B": "pa$word 1", "C": "${NOPE}", "D": "${NOPE:-d}", "E": "p$1"}),
        # python-dotenv (Django): "${NAME}" and "${NAME:-default}"; "$NAME" stays as written.
        ("python-dotenv", {"A": "abc$xyz", "B": "pa$word 1", "C": "", "D": "d", "E": "p$1"}),
    ],
)
def test_dotenv_dollar_references_follow_the_library(style: Literal["symfony", "phpdotenv", "python-dotenv"],
                                                     expected: dict[str, str]) -> None:
    """A password with a "$" in it is read as the framework's own library reads it."""
    text = 'PART=1\nA=abc$xyz\nB="pa$word ${PART}"\nC=${NOPE}\nD=${NOPE:-d}\nE="p\\$1"\n'
    values = parse_dotenv(text, environ={}, style=style)
    assert {name: values[name] for name in expected} == expected


@pytest.mark.parametrize("style", ["phpdotenv", "python-dotenv"])
@pytest.mark.parametrize("first", ["DB_CONNECTION=mysql", "export DB_CONNECTION=mysql", "# a comment",
                                   "DB_CONNECTION='mysql'", "", "DB_CONNECTION=\"mysql\""])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_dotenv_byte_order_mark_is_dropped_as_the_library_drops_it(
        tmp_path: Path, style: Literal["phpdotenv", "python-dotenv"], first: str, newline: str) -> None:
    """A .env saved by a Windows editor starts with a BOM: phpdotenv (Laravel, Craft, Bedrock) and python-dotenv
    drop it; it was read as part of the first name, so the file was refused ("not a variable name")."""
    lines = [first, "DB_HOST=db", "DB_PASSWORD=\"pw\""]
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbf" + newline.join(lines).encode())
    without = parse_dotenv(newline.join(lines), environ={}, style=style)
    assert load_dotenv_files([path], environ={}, style=style) == without
    assert without["DB_HOST"] == "db" and without["DB_PASSWORD"] == "pw"


def test_dotenv_byte_order_mark_symfony_refuses_says_why() -> None:
    """Symfony's Dotenv refuses a file that starts with a BOM; synco says so in one line, naming the file."""
    with pytest.raises(ConfigError, match=r"^app/\.env starts with a byte order mark \(BOM\)[^\n]*$"):
        parse_dotenv("\ufeffDATABASE_URL=mysql://u:secret-pw@h/db\n", environ={}, source="app/.env")


def test_dotenv_escaped_dollar_before_anything_is_a_dollar() -> None:
    """"\\$" is a literal "$" whatever follows it, not only before a name."""
    assert parse_dotenv('A="p\\$1\\$"\nB="x\\$y"\n', environ={}) == {"A": "p$1$", "B": "x$y"}


def test_dotenv_too_large_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    """A huge .env, or one linked to an endless device, is a one-line error, not a full memory."""
    (tmp_path / ".env").write_text("A=" + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match=r"\.env is too large to be a \.env file") as info:
        load_dotenv_files([tmp_path / ".env"], environ={})
    assert "\n" not in str(info.value)
    endless = tmp_path / "endless"
    endless.mkdir()
    (endless / ".env").symlink_to("/dev/zero")
    # Refused by its type before a byte is read (see test_frameworkutil_configfile.py for pipes).
    with pytest.raises(ConfigError, match=r"is a character device, not a \.env file"):
        load_dotenv_files([endless / ".env"], environ={})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("X='a\nY=1\n", "unterminated"), ("not a line\n", "expected NAME=value"), ('X="a" b\n', "unexpected text")],
)
def test_dotenv_errors_name_file_and_line(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        parse_dotenv(text, environ={}, source="/app/.env")
    assert "/app/.env, line 1" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("line", ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
                                  "MIIEvQIBADANBgkqhkiG9w0B+AQ==", "  Zm9vYmFyc2VjcmV0LXJlc3Qtb2YtcGFzc3dvcmQ"])
def test_a_line_that_is_no_assignment_is_not_quoted(line: str) -> None:
    """The body of a private key pasted into .env without quotes, or the rest of a password that broke onto a line
    of its own, came back in the error (its first 40 characters), in the terminal and in CI logs."""
    text = f"APP_KEY=base64:abc\n-----BEGIN PRIVATE KEY-----\n{line}\n"
    with pytest.raises(ConfigError, match=r"/app/\.env, line 2: expected NAME=value \(the line has no '='\)$"):
        parse_dotenv(text, environ={}, source="/app/.env")
    with pytest.raises(ConfigError) as info:
        parse_dotenv(f"{line}\n", environ={}, source="/app/.env")
    assert line.strip()[:8] not in str(info.value), str(info.value)


def test_find_php_order(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    assert find_php({"PATH": str(bin_dir)}) is None
    versioned = bin_dir / "php8.1"
    versioned.write_text("#!/bin/sh\n")
    versioned.chmod(versioned.stat().st_mode | stat.S_IXUSR)
    assert find_php({"PATH": str(bin_dir)}) == str(versioned)
    # The newest version wins, whichever way it is spelt (Debian's php8.1 against Alpine's php83).
    undotted = bin_dir / "php83"
    undotted.write_text("#!/bin/sh\n")
    undotted.chmod(undotted.stat().st_mode | stat.S_IXUSR)
    assert find_php({"PATH": str(bin_dir)}) == str(undotted)
    plain = bin_dir / "php"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(plain.stat().st_mode | stat.S_IXUSR)
    assert find_php({"PATH": str(bin_dir)}) == str(plain)
    explicit = tmp_path / "custom-php"
    explicit.write_text("#!/bin/sh\n")
    explicit.chmod(explicit.stat().st_mode | stat.S_IXUSR)
    assert find_php({"PATH": str(bin_dir), "PHP": str(explicit)}) == str(explicit)
    # A $PHP that is not executable is ignored rather than failing later with a confusing error.
    assert find_php({"PATH": str(bin_dir), "PHP": str(tmp_path / "nope/php")}) == str(plain)


@needs_php
def test_run_command_with_real_php(tmp_path: Path) -> None:
    result = run_command(["php", "-r", "echo getenv('FLOW_CONTEXT');"], cwd=tmp_path,
                         extra_env={"FLOW_CONTEXT": "Production"})
    assert result.stdout == "Production"
    register_secret("hunter2-secret")
    with pytest.raises(FrameworkCommandError) as info:
        run_command(["php", "-r", "fwrite(STDERR, \"\\nbad password hunter2-secret\\nmore\"); exit(3);"], cwd=tmp_path)
    message = str(info.value)
    assert "exit status 3" in message and "bad password ***" in message and "hunter2" not in message
    with pytest.raises(FrameworkCommandError, match=r"did not finish within 0\.5 s"):
        run_command(["php", "-r", "sleep(5);"], cwd=tmp_path, timeout=0.5)


def test_run_command_missing_program(tmp_path: Path) -> None:
    with pytest.raises(FrameworkCommandError, match="cannot run"):
        run_command([os.fspath(tmp_path / "no-such-program")], cwd=tmp_path)


def test_dump_options_effective_smart_transfer() -> None:
    options = DumpOptions(exclude_tables=("a",), where={"t": "x = 1"}, smart_exclude_tables=("thumbs", "a"),
                          smart_where={"t": "y = 2", "r": "z = 3"})
    smart = options.effective()
    assert smart.exclude_tables == ("a", "thumbs")
    assert dict(smart.where) == {"t": "x = 1", "r": "z = 3"}
    everything = options.effective(all=True)
    assert everything.exclude_tables == ("a",) and dict(everything.where) == {"t": "x = 1"}
    assert not everything.smart_exclude_tables and not smart.smart_where
