"""The built-in engines held to :class:`synco_core.testing.EngineContract`, as a third-party engine would be.

The engines have their own, deeper test suites; this proves the contract class works against real engines
and real servers (MariaDB and PostgreSQL on 127.0.0.1), and that the built-ins keep its promises.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core.testing import EngineContract
from synco_core.testing.services import mysql_url_for, postgres_url_for


class TestSqliteEngineContract(EngineContract):
    engine = "sqlite"

    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'source.db'}"

    @pytest.fixture
    def target_database_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'target.db'}"


@pytest.mark.mysql
class TestMysqlEngineContract(EngineContract):
    engine = "mysql"

    @pytest.fixture
    def database_url(self, mysql_database_factory: Callable[[], str]) -> str:
        return mysql_url_for(mysql_database_factory())

    @pytest.fixture
    def target_database_url(self, mysql_database_factory: Callable[[], str]) -> str:
        return mysql_url_for(mysql_database_factory())


@pytest.mark.postgres
class TestPostgresEngineContract(EngineContract):
    engine = "postgresql"

    @pytest.fixture
    def database_url(self, postgres_database_factory: Callable[[], str]) -> str:
        return postgres_url_for(postgres_database_factory())

    @pytest.fixture
    def target_database_url(self, postgres_database_factory: Callable[[], str]) -> str:
        return postgres_url_for(postgres_database_factory())
