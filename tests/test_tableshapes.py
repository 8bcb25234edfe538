"""The core's helpers for sanitising profiles that find a kind of table by its columns."""

from __future__ import annotations

import sqlite3

from synco_core import DatabaseInventory, TableInfo, address_masked, credential_columns, quote_name, tables_with_columns


def _inventory(*, fold: bool) -> DatabaseInventory:
    return DatabaseInventory(engine="mysql", server_version="", tables_ignore_case=fold, columns_ignore_case=fold,
                             tables=[TableInfo("app_Admins", ["id", "Password", "remember_token"]),
                                     TableInfo("app_users", ["id", "password"]),
                                     TableInfo("app_user_view", ["password", "remember_token"], kind="view"),
                                     TableInfo("other_admins", ["password", "remember_token"])])


def test_tables_are_found_by_their_columns_as_the_engine_compares_names() -> None:
    shape = ("password", "remember_token")
    assert set(tables_with_columns(_inventory(fold=True), shape, prefix="APP_")) == {"app_Admins"}
    assert set(tables_with_columns(_inventory(fold=False), shape, prefix="app_")) == set(), "case counts here"
    found = set(tables_with_columns(_inventory(fold=True), shape))
    assert found == {"app_Admins", "other_admins"}, "views have no rows"
    assert tables_with_columns(None, shape) == {}


def test_credential_columns_leave_out_those_ruled_otherwise() -> None:
    columns = {"id", "api_token", "remember_token", "GitHub_Refresh_Token", "totp_secret", "token_count", "secretary"}
    assert credential_columns(columns, ruled=("remember_token",)) == ["GitHub_Refresh_Token", "api_token",
                                                                      "totp_secret"]


def test_login_names_that_are_addresses_are_masked_and_stay_unique() -> None:
    masked = address_masked("sqlite", quote_name("sqlite", "user name"), quote_name("sqlite", "id"))
    with sqlite3.connect(":memory:") as conn:
        conn.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, "user name" TEXT)')
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, "ann@real.example"), (2, "bob"), (3, None)])
        assert conn.execute(f"SELECT {masked} FROM t ORDER BY id").fetchall() == [
            ("user1@example.invalid",), ("bob",), (None,)]
    assert address_masked("mysql", "`u`", "`id`") == ("CASE WHEN `u` LIKE '%@%' THEN CONCAT('user', `id`, "
                                                      "'@example.invalid') ELSE `u` END")
