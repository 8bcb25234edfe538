"""The URL rewrite keeps nothing between the statements of a dump: memory does not grow with the table.

The MySQL loader hands the rewrite one INSERT at a time (a dump's statements are bounded in size), so a 1 GB
table of serialized post meta is rewritten with the memory of one statement. This checks the rewriting side
of that: synco-wordpress's replacer behind the engine's INSERT rewriter, fed statement after statement of
serialized values holding the production URL, peaks at the same traced memory for 4 times the data.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from synco_wordpress.urls import value_rewriter

from synco_core import Framework
from synco_core.engines.rewrite.mysql import InsertRewriter

ROWS = 200


def _statement(number: int) -> bytes:
    """One INSERT of post meta rows: serialized widget settings, JSON and a post body, all with the URL."""
    rows = []
    for row in range(ROWS):
        ident = number * ROWS + row
        url = b"https://www.example.com/page-%d/" % ident
        inner = b'a:1:{s:4:"link";s:%d:"%s";}' % (len(url), url)
        serialized = b'a:3:{s:3:"url";s:%d:"%s";s:6:"nested";s:%d:"%s";s:1:"n";i:%d;}' % (
            len(url), url, len(inner), inner, ident)
        json = url.replace(b"/", b"\\\\/")
        rows.append(b"(%d,%d,'_meta','%s','{\"u\":\"%s\"}','<a href=\"%s\">x</a>')" % (
            ident, ident, serialized.replace(b'"', b'\\"'), json, url))
    return b"INSERT INTO `wp_postmeta` VALUES " + b",".join(rows) + b";"


def _peak(statements: int) -> tuple[int, int]:
    """(traced peak in bytes, values changed) rewriting ``statements`` statements one after the other."""
    framework = Framework(name="WordPress", plugin="wordpress", project_dir=Path("."), settings={"urls": {}},
                          site_url="http://localhost:8080")
    rewriter = value_rewriter(framework, {"wordpress": {"home": "https://www.example.com",
                                                        "siteurl": "https://www.example.com"}})
    assert rewriter is not None
    rewrite = InsertRewriter(rewriter)
    tracemalloc.start()
    try:
        for number in range(statements):
            statement = _statement(number)
            new = rewrite(statement)
            assert b"https://www.example.com" not in new
            del statement, new
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, rewrite.changed


def test_rewrite_memory_does_not_grow_with_the_table() -> None:
    statement = len(_statement(0))
    small, changed_small = _peak(4)
    large, changed_large = _peak(16)
    assert changed_large == 4 * changed_small == 16 * ROWS * 3
    # The peak is a few statements' worth (the statement, its rows, the new one), whatever the table's size.
    assert large < small + statement, (small, large, statement)
    assert large < 8 * statement
