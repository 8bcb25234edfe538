"""Benchmark: the server's CPU for shapes of the MySQL dump's page query, on a table keyed by (INT, DATE).

    python3 benchmarks/bench_mysql_page_queries.py [--size small|medium|full] [--rounds 5] [--accounts 12]

The table is ``bench_mysql.py --only keys``' (INT, DATE) one. The dump reads a table whose key starts with an
integer in pages: ``GROUP_CONCAT`` of the rows' literals over a range of the key's first column
(``synco_core.engines.mysql.tablerows``). On two cores the server's thread formatting them is half the dump's CPU,
so this measures only that thread: its time on a core (``/proc/<tid>/schedstat``, the thread id from
``information_schema.PROCESSLIST``; the server must run on this machine) while one connection reads the whole table
each way below, all shapes in turns, ``--rounds`` times, printing medians and ranges:

- ``pages``: the dump's query, ranges ``account >= lo AND account < hi`` of ``--accounts`` values each;
- ``pages between`` / ``pages in``: the same ranges written as ``BETWEEN`` and as an ``IN`` list;
- ``group by``: one unbuffered query, one ``GROUP_CONCAT`` per value of ``account`` (no range tested per row, one
  query instead of one per page);
- ``literals``: ``SUM(LENGTH(literal))`` over the same pages (the formatting without ``GROUP_CONCAT``), and ``scan``:
  ``COUNT(*)`` over them (reading the rows alone); ``count, one value a query``: the scan again in one query per
  value of ``account``, for what a query costs by itself.

The literal is synco's own (``literals.row_literal_sql`` of the table's columns). The table is made (or made again)
at ``--size`` as ``bench_mysql.py --only keys`` makes it (``SYNCO_BENCH_MYSQL_PORT`` and ``SYNCO_BENCH_MYSQL_PREFIX``
apply).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import pymysql
import pymysql.cursors
from bench_mysql import KEY_ROWS, admin, generate_keyed, key_database

from synco_core.engines.mysql import literals, schema


def _on_core(tid: int) -> float:
    with open(f"/proc/{tid}/schedstat") as fh:
        return int(fh.read().split()[0]) / 1e9


def shapes(cur: Any, literal: str, accounts: int, high: int) -> dict[str, Callable[[], None]]:
    page = f"SELECT GROUP_CONCAT({literal} SEPARATOR '\\0'), COUNT(*) FROM daily"
    starts = range(1, high + 1, accounts)

    def each(sql: Callable[[int, int], str], step_starts: range = starts) -> Callable[[], None]:
        def run() -> None:
            for low in step_starts:
                cur.execute(sql(low, low + step_starts.step))
                cur.fetchall()
        return run

    def group_by() -> None:
        cur.execute(f"{page} GROUP BY account")
        for _ in cur.fetchall_unbuffered():
            pass

    return {
        "pages": each(lambda lo, hi: f"{page} WHERE (account >= {lo} AND account < {hi})"),
        "pages between": each(lambda lo, hi: f"{page} WHERE account BETWEEN {lo} AND {hi - 1}"),
        "pages in": each(lambda lo, hi: f"{page} WHERE account IN ({','.join(map(str, range(lo, hi)))})"),
        "group by": group_by,
        "literals": each(lambda lo, hi: f"SELECT SUM(LENGTH({literal})) FROM daily "
                                        f"WHERE (account >= {lo} AND account < {hi})"),
        "scan": each(lambda lo, hi: f"SELECT COUNT(*) FROM daily WHERE (account >= {lo} AND account < {hi})"),
        "count, one value a query": each(lambda lo, hi: f"SELECT COUNT(*) FROM daily WHERE account = {lo}",
                                         range(1, high + 1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(KEY_ROWS), default="small")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=12, help="values of account per page (the dump's: about 12)")
    args = parser.parse_args()
    generate_keyed(KEY_ROWS[args.size])
    database = key_database("int_date")
    conn = admin(database)
    with conn.cursor() as setup:
        # As the dump sets it: a page's value may be a few megabytes.
        setup.execute("SET SESSION group_concat_max_len = 64 * 1024 * 1024")
        setup.execute("SELECT TID, (SELECT MAX(account) FROM daily) FROM information_schema.PROCESSLIST "
                      "WHERE ID = CONNECTION_ID()")
        tid, high = (int(value) for value in setup.fetchone())
    literal = literals.row_literal_sql(schema.columns(conn, database, "daily"))
    cur = conn.cursor(pymysql.cursors.SSCursor)
    cases = shapes(cur, literal, args.accounts, high)
    spent: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, run in cases.items():
            before = _on_core(tid)
            run()
            spent[name].append(_on_core(tid) - before)
    conn.close()
    print(f"\nserver CPU for the (INT, DATE) table, {KEY_ROWS[args.size]} rows, pages of {args.accounts} accounts "
          f"({args.rounds} rounds in turns)\n\n| query | server CPU, median (range) |\n|---|---|")
    for name, values in spent.items():
        print(f"| {name} | {statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
