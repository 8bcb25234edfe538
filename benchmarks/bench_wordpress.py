"""Benchmark: WordPress URLs rewritten while the dump loads, against a second pass over the loaded database.

    python3 benchmarks/bench_wordpress.py [--size small|medium|full] [--repeat N]

WP-CLI's ``wp search-replace`` is the reference tool, but it is a PHP archive downloaded from the internet
and needs a WordPress to load, neither of which this machine has; the reference here does what it does, in
Python and so faster than PHP would: after a plain install, for every text column of every table, select the
rows whose column holds the old host (``LIKE``), rewrite each value with the very same replacer (serialized data
included) and ``UPDATE`` the changed ones by primary key, one transaction per table. synco's side is one
install with the value rewriter: the rewriting happens while the rows load, and nothing is read twice. A third
case, the same install without rewriting, shows what the rewriting itself costs.

The dataset (generated into ``synco_bench_wp``) is WordPress-shaped: posts whose bodies link to the site,
post meta with serialized and JSON values, options with serialized widgets; about half the posts mention
the production URL. ``small`` has 20k posts, ``medium`` 100k, ``full`` 400k. Both sides install the same
synco dump (verified against its manifest, swapped in atomically) into a fresh database each run.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import pymysql
from common import DATA_DIR, Case, measure_interleaved, print_table

from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install
from synco_core.values import DumpOptions, InstallOptions, TableManifest, ValueRewriter

try:
    from synco_wordpress.searchreplace import UrlReplacer
except ImportError:  # pragma: no cover - the benchmark needs the plugin installed (nox -s benchmarks does)
    UrlReplacer = None  # type: ignore[assignment,misc]

HOST, PORT, USER = "127.0.0.1", 3306, "root"
SOURCE, TARGET = "synco_bench_wp", "synco_bench_wp_dst"
OLD, NEW = "https://www.shop-example.com", "http://shop.test:8080"
SIZES = {"tiny": 2_000, "small": 20_000, "medium": 100_000, "full": 400_000}
#: (table, primary key, text columns) the reference's second pass walks, as wp search-replace walks them.
TEXT_COLUMNS = [("wp_posts", "ID", ["post_content", "post_title", "guid"]),
                ("wp_postmeta", "meta_id", ["meta_key", "meta_value"]),
                ("wp_options", "option_id", ["option_name", "option_value"])]


def admin(database: str | None = None) -> Any:
    return pymysql.connect(host=HOST, port=PORT, user=USER, database=database, autocommit=True, charset="utf8mb4")


def recreate(name: str) -> None:
    conn = admin()
    with conn.cursor() as cur:
        for suffix in ("", "__synco_new", "__synco_prev"):
            cur.execute(f"DROP DATABASE IF EXISTS `{name}{suffix}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()


def serialize(value: Any) -> str:
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode())}:"{value}";'
    items = "".join(serialize(k) + serialize(v) for k, v in value.items())
    return f"a:{len(value)}:{{{items}}}"


def generate(posts: int) -> None:
    recreate(SOURCE)
    conn = admin(SOURCE)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE wp_posts (ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_title TEXT NOT NULL, "
                    "post_content LONGTEXT NOT NULL, guid VARCHAR(255) NOT NULL)")
        cur.execute("CREATE TABLE wp_postmeta (meta_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_id BIGINT, "
                    "meta_key VARCHAR(255), meta_value LONGTEXT)")
        cur.execute("CREATE TABLE wp_options (option_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, "
                    "option_name VARCHAR(191) UNIQUE, option_value LONGTEXT NOT NULL)")
        filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30
        batch = []
        for number in range(1, posts + 1):
            link = f'<a href="{OLD}/post-{number}/">read more</a> ' if number % 2 else ""
            batch.append((f"Post {number}", f"<p>{filler}{link}</p>", f"{OLD}/?p={number}" if number % 2 else ""))
            if len(batch) == 2000:
                cur.executemany("INSERT INTO wp_posts (post_title, post_content, guid) VALUES (%s, %s, %s)", batch)
                batch = []
        if batch:
            cur.executemany("INSERT INTO wp_posts (post_title, post_content, guid) VALUES (%s, %s, %s)", batch)
        meta = []
        for number in range(1, posts + 1):
            meta.append((number, "_settings", serialize({"url": f"{OLD}/p/{number}", "n": number})))
            meta.append((number, "_builder", json.dumps({"img": f"{OLD}/wp-content/uploads/{number}.jpg"})
                         .replace("/", "\\/")))
            if len(meta) >= 4000:
                cur.executemany("INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)", meta)
                meta = []
        if meta:
            cur.executemany("INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)", meta)
        options = [("home", OLD), ("siteurl", OLD)] + [
            (f"widget_{i}", serialize({2: {"title": "t", "text": f'<a href="{OLD}/x/{i}">x</a>'}})) for i in range(200)]
        cur.executemany("INSERT INTO wp_options (option_name, option_value) VALUES (%s, %s)", options)
    conn.close()


def rewriter() -> ValueRewriter:
    replacer = UrlReplacer([(OLD, NEW)])
    return ValueRewriter(needles=replacer.needles, rewrite=replacer, description=f"{OLD} -> {NEW}")


def load(dump_file: Path, manifest: dict[str, TableManifest], with_rewriter: bool) -> None:
    with dump_file.open("rb") as stream:
        install(parse_database_url(f"mysql://{USER}@{HOST}:{PORT}/{TARGET}"), stream,
                InstallOptions(yes=True, manifest=manifest, rewriter=rewriter() if with_rewriter else None))


def second_pass() -> None:
    """What wp search-replace does after a plain load: select, rewrite and update the rows holding the host."""
    replace = rewriter().rewrite
    host = UrlReplacer([(OLD, NEW)]).needles[0].decode()
    conn = pymysql.connect(host=HOST, port=PORT, user=USER, database=TARGET, charset="utf8mb4", autocommit=False)
    with conn.cursor() as cur:
        for table, key, columns in TEXT_COLUMNS:
            for column in columns:
                cur.execute(f"SELECT `{key}`, `{column}` FROM `{table}` WHERE `{column}` LIKE %s",
                            (f"%{host}%",))
                changed = []
                for row_key, value in cur.fetchall():
                    new = replace(value.encode())
                    if new != value.encode():
                        changed.append((new.decode(), row_key))
                cur.executemany(f"UPDATE `{table}` SET `{column}` = %s WHERE `{key}` = %s", changed)
            conn.commit()
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if UrlReplacer is None:
        print("synco-wordpress is not installed (pip install -e plugins/synco-wordpress)", file=sys.stderr)
        return 1
    posts = SIZES[args.size]
    generate(posts)
    work = DATA_DIR / "wordpress"
    work.mkdir(parents=True, exist_ok=True)
    dump_file = work / "dump.sql"
    buffer = io.BytesIO()
    result = dump(parse_database_url(f"mysql://{USER}@{HOST}:{PORT}/{SOURCE}"), buffer, DumpOptions())
    dump_file.write_bytes(buffer.getvalue())
    manifest = dict(result.tables)

    def reference() -> None:
        load(dump_file, manifest, with_rewriter=False)
        second_pass()

    ours, theirs, plain = measure_interleaved([
        Case("synco install, URLs rewritten while loading", lambda: load(dump_file, manifest, with_rewriter=True),
             lambda: recreate(TARGET)),
        Case("install, then a search-replace pass", reference, lambda: recreate(TARGET)),
        Case("install without rewriting", lambda: load(dump_file, manifest, with_rewriter=False),
             lambda: recreate(TARGET)),
    ], args.repeat)
    print(f"\nWordPress, --size {args.size}: {posts} posts (half linking to the site), {2 * posts} post meta "
          f"(serialized and JSON), 202 options; dump {dump_file.stat().st_size / 1e6:.0f} MB")
    print_table("WordPress URL rewriting (ratio = synco / reference, lower is better)",
                [("install with URLs rewritten", ours, theirs),
                 ("the rewriting's own cost", ours, plain)])
    for name in (SOURCE, TARGET):
        conn = admin()
        with conn.cursor() as cur:
            for suffix in ("", "__synco_new", "__synco_prev"):
                cur.execute(f"DROP DATABASE IF EXISTS `{name}{suffix}`")
        conn.close()
    dump_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
