"""The URL rewrite keeps nothing between the values of a dump: memory does not grow with the table.

The engines hand a plugin's rewriter one string value at a time, out of statements (or blocks of rows) of
bounded size, so a 1 GB table of serialized post meta is rewritten with the memory of one value. This checks
the plugin's side of that: synco-wordpress's replacer, fed the values of statement after statement of rows
holding the production URL (serialized data, JSON, HTML), peaks at the same traced memory for 4 times the
data. (A plugin's tests use only synco_core's public API: the engines' own rewriters are tested by the core.)
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from synco_wordpress.urls import value_rewriter

from synco_core import Framework

ROWS = 200


def _values(number: int) -> list[bytes]:
    """The string values of one statement of post meta rows: serialized widget settings, JSON and a post body,
    all with the URL, as a dump holds them (UTF-8 bytes, unescaped)."""
    values = []
    for row in range(ROWS):
        ident = number * ROWS + row
        url = b"https://www.example.com/page-%d/" % ident
        inner = b'a:1:{s:4:"link";s:%d:"%s";}' % (len(url), url)
        serialized = b'a:3:{s:3:"url";s:%d:"%s";s:6:"nested";s:%d:"%s";s:1:"n";i:%d;}' % (
            len(url), url, len(inner), inner, ident)
        json = url.replace(b"/", b"\\/")
        values += [serialized, b'{"u":"%s"}' % json, b'<a href="%s">x</a>' % url]
    return values


def _peak(statements: int) -> tuple[int, int]:
    """(traced peak in bytes, values changed) rewriting ``statements`` statements one after the other."""
    framework = Framework(name="WordPress", plugin="wordpress", project_dir=Path("."), settings={"urls": {}},
                          site_url="http://localhost:8080")
    rewriter = value_rewriter(framework, {"wordpress": {"home": "https://www.example.com",
                                                        "siteurl": "https://www.example.com"}})
    assert rewriter is not None
    changed = 0
    tracemalloc.start()
    try:
        for number in range(statements):
            values = _values(number)
            for value in values:
                new = rewriter.rewrite(value)
                assert b"https://www.example.com" not in new
                changed += new != value
            del values, new
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, changed


def test_rewrite_memory_does_not_grow_with_the_table() -> None:
    statement = sum(map(len, _values(0)))
    small, changed_small = _peak(4)
    large, changed_large = _peak(16)
    assert changed_large == 4 * changed_small == 16 * ROWS * 3
    # The peak is a few statements' worth (the statement, its rows, the new one), whatever the table's size.
    assert large < small + statement, (small, large, statement)
    assert large < 8 * statement
