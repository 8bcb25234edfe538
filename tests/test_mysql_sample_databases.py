"""Public sample databases no one here wrote (tests/data/sakila, tests/data/employees) through ``synco db
dump`` and ``synco db load``: mariadb-dump cannot tell the copy from the source and every table checksums
the same; and a sanitising rule giving NULL to one of their NOT NULL columns stops the dump in one line
(it made a dump that failed at load, on the first such row)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mysql_parity import assert_copy_is_exact
from test_mysql_support import load_with_client, query

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_url_for

pytestmark = pytest.mark.mysql

DATA = Path(__file__).parent / "data"

#: A few rows of each Sakila table (its 3 MB of data are not shipped): a POINT, a PNG header in a BLOB,
#: SET and ENUM values, YEAR, NULLs. film's INSERT trigger fills film_text.
SAKILA_ROWS = """
SET FOREIGN_KEY_CHECKS=0;
INSERT INTO language VALUES (1,'English','2006-02-15 05:02:19'),(2,'Italian','2006-02-15 05:02:19');
INSERT INTO country VALUES (1,'Afghanistan','2006-02-15 04:44:00'),(2,'Côte d\u2019Ivoire','2006-02-15 04:44:00');
INSERT INTO city VALUES (1,'A Coruña (La Coruña)',2,'2006-02-15 04:45:25'),(2,'Abha',1,'2006-02-15 04:45:25');
INSERT INTO address VALUES
 (1,'47 MySakila Drive',NULL,'Alberta',1,'','',ST_GeomFromText('POINT(-112.8185647 49.6999986)'),'2014-09-25 22:30:27'),
 (2,'28 MySQL Boulevard','','QLD',2,NULL,'6172235589',0x000000000101000000CDCC4C3F5E3E5C407412E0B58A4E3BC0,
  '2014-09-25 22:30:09');
INSERT INTO store VALUES (1,1,1,'2006-02-15 04:57:12'),(2,2,2,'2006-02-15 04:57:12');
INSERT INTO staff VALUES (1,'Mike','Hillyer',1,0x89504E470D0A1A0A0000000D49484452,'Mike.Hillyer@sakilastaff.com',1,1,
  'Mike','8cb2237d0679ca88db6464eac60da96345513964','2006-02-15 03:57:16'),
 (2,'Jon','Stephens',2,NULL,'Jon.Stephens@sakilastaff.com',2,1,'Jon',NULL,'2006-02-15 03:57:16');
INSERT INTO customer VALUES
 (1,1,'MARY','SMITH','MARY.SMITH@sakilacustomer.org',1,1,'2006-02-14 22:04:36','2006-02-15 04:57:20'),
 (2,2,'PATRICIA','JOHNSON',NULL,2,0,'2006-02-14 22:04:36',NULL);
INSERT INTO actor VALUES (1,'PENELOPE','GUINESS','2006-02-15 04:34:33'),(2,'NICK','WAHLBERG','2006-02-15 04:34:33');
INSERT INTO category VALUES (1,'Action','2006-02-15 04:46:27'),(2,'Animation','2006-02-15 04:46:27');
INSERT INTO film VALUES (1,'ACADEMY DINOSAUR','A Epic Drama of a Feminist And a Mad Scientist',2006,1,NULL,6,
  '0.99',86,'20.99','PG','Deleted Scenes,Behind the Scenes','2006-02-15 05:03:42'),
 (2,'ACE GOLDFINGER','A Astounding Epistle',2006,1,2,3,'4.99',48,'12.99','G','Trailers,Deleted Scenes',
  '2006-02-15 05:03:42'),
 (3,'ADAPTATION HOLES',NULL,NULL,1,NULL,7,'2.99',NULL,'18.99',NULL,NULL,'2006-02-15 05:03:42');
INSERT INTO film_actor VALUES (1,1,'2006-02-15 05:05:03'),(2,2,'2006-02-15 05:05:03');
INSERT INTO film_category VALUES (1,1,'2006-02-15 05:07:09'),(2,2,'2006-02-15 05:07:09');
INSERT INTO inventory VALUES (1,1,1,'2006-02-15 05:09:17'),(2,2,2,'2006-02-15 05:09:17');
INSERT INTO rental VALUES (1,'2005-05-24 22:53:30',1,1,'2005-05-26 22:04:30',1,'2006-02-15 21:30:53'),
 (2,'2005-05-24 22:54:33',2,2,NULL,2,'2006-02-15 21:30:53');
INSERT INTO payment VALUES (1,1,1,1,'2.99','2005-05-25 11:30:37','2006-02-15 22:12:30'),
 (2,2,2,NULL,'0.99','2005-05-28 10:35:23',NULL);
SET FOREIGN_KEY_CHECKS=1;
"""


def load_sakila(database: str) -> None:
    """Sakila's schema as published, pointed at ``database`` (its script creates and uses ``sakila``, and a
    view reads ``sakila.film``), with ``address.location`` added (see SOURCE.md) and a few rows."""
    script = (DATA / "sakila" / "sakila-schema.sql").read_text(encoding="utf-8")
    lines = [line for line in script.splitlines() if not line.startswith(("DROP SCHEMA", "CREATE SCHEMA", "USE "))]
    script = "\n".join(lines).replace("sakila.", f"`{database}`.")
    script += ("\nALTER TABLE address ADD COLUMN location GEOMETRY NOT NULL AFTER phone, "
               "ADD SPATIAL KEY idx_location (location);\n")
    load_with_client(database, (script + SAKILA_ROWS).encode())


#: The tables of employees_partitioned.sql (fewer partitions), with 999 generated employees.
EMPLOYEES_TABLES = """
CREATE TABLE employees (emp_no INT NOT NULL, birth_date DATE NOT NULL, first_name VARCHAR(14) NOT NULL,
  last_name VARCHAR(16) NOT NULL, gender ENUM ('M','F') NOT NULL, hire_date DATE NOT NULL, PRIMARY KEY (emp_no));
CREATE TABLE departments (dept_no CHAR(4) NOT NULL, dept_name VARCHAR(40) NOT NULL, PRIMARY KEY (dept_no),
  UNIQUE KEY (dept_name));
CREATE TABLE dept_manager (emp_no INT NOT NULL, dept_no CHAR(4) NOT NULL, from_date DATE NOT NULL,
  to_date DATE NOT NULL, FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE,
  FOREIGN KEY (dept_no) REFERENCES departments (dept_no) ON DELETE CASCADE, PRIMARY KEY (emp_no,dept_no));
CREATE TABLE dept_emp (emp_no INT NOT NULL, dept_no CHAR(4) NOT NULL, from_date DATE NOT NULL,
  to_date DATE NOT NULL, FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE,
  FOREIGN KEY (dept_no) REFERENCES departments (dept_no) ON DELETE CASCADE, PRIMARY KEY (emp_no,dept_no));
CREATE TABLE titles (emp_no INT NOT NULL, title VARCHAR(50) NOT NULL, from_date DATE NOT NULL, to_date DATE,
  PRIMARY KEY (emp_no,title, from_date));
ALTER TABLE titles partition by range COLUMNS (from_date) (partition p01 values less than ('1985-12-31'),
  partition p02 values less than ('1986-12-31'), partition p19 values less than (MAXVALUE));
CREATE TABLE salaries (emp_no INT NOT NULL, salary INT NOT NULL, from_date DATE NOT NULL, to_date DATE NOT NULL,
  PRIMARY KEY (emp_no, from_date));
ALTER TABLE salaries partition by range COLUMNS (from_date) (partition p01 values less than ('1985-12-31'),
  partition p02 values less than ('1986-12-31'), partition p19 values less than (MAXVALUE));
INSERT INTO departments VALUES ('d001','Marketing'),('d002','Finance'),('d003','Human Resources');
INSERT INTO employees SELECT seq, '1953-09-02' + INTERVAL seq DAY, CONCAT('Georgi', seq), 'Facello',
  IF(seq%2,'M','F'), '1986-06-26' - INTERVAL seq DAY FROM seq_10001_to_10999;
INSERT INTO dept_emp SELECT seq, CONCAT('d00', 1 + seq%3), '1986-06-26' - INTERVAL seq DAY, '9999-01-01'
  FROM seq_10001_to_10999;
INSERT INTO dept_manager VALUES (10002,'d001','1985-01-01','1991-10-01'),(10003,'d002','1985-01-01','9999-01-01');
INSERT INTO titles SELECT seq, 'Senior Engineer', '1984-06-26' + INTERVAL seq DAY, NULL FROM seq_10001_to_10999;
INSERT INTO salaries SELECT seq, 60117 + seq, '1984-06-26' + INTERVAL (seq-10000) DAY, '9999-01-01'
  FROM seq_10001_to_10999;
"""


def load_employees(database: str) -> None:
    objects = (DATA / "employees" / "objects.sql").read_text(encoding="utf-8").replace("use employees;", "")
    load_with_client(database, (EMPLOYEES_TABLES + objects).encode())


@pytest.mark.parametrize("loader", [load_sakila, load_employees], ids=["sakila", "employees"])
def test_mariadb_dump_cannot_tell_the_copy_from_the_source(loader: Callable[[str], None], tmp_path: Path,
                                                           mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    loader(source)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


@pytest.mark.parametrize("rule", [
    "address.location=NULL",                                 # the geometry of a SPATIAL key
    "customer.first_name=(null)",
    "customer.last_name=IF(customer_id = 2, NULL, 'X')",     # NULL for one row only
    "film.title=NULLIF(title, 'ADAPTATION HOLES')",
])
def test_a_rule_giving_null_to_a_not_null_column_stops_the_dump(rule: str, tmp_path: Path,
                                                                mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    load_sakila(source)
    dump_file = tmp_path / "dump.sql"
    result = CliRunner().invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file), "--sanitize", rule])
    assert result.exit_code == 1, result.output
    table_column = rule.split("=", 1)[0]
    assert f"gives NULL to {table_column}, which is NOT NULL" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not dump_file.exists()


def test_rules_that_give_null_only_to_nullable_columns_or_to_rows_left_out_dump_and_load(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    source, target = mysql_database_factory(), mysql_database_factory()
    load_sakila(source)
    dump_file = tmp_path / "dump.sql"
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file),
                                 "--sanitize", "customer.email=NULL", "--sanitize", "staff.picture=null",
                                 "--sanitize", "customer.last_name=IF(customer_id = 2, NULL, 'X')",
                                 "--where", "customer=customer_id <> 2", "--where", "payment=customer_id <> 2",
                                 "--where", "rental=customer_id <> 2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
    assert query(target, "SELECT customer_id, last_name, email FROM customer") == [(1, "X", None)]


@pytest.mark.parametrize(("rules", "refused"), [
    (["departments.dept_name='x'"], True),                          # UNIQUE KEY (dept_name)
    (["departments.dept_name=LEFT(dept_name, 1)"], True),           # 'Marketing' ... 'Finance': two rows stay apart
    (["departments.dept_name=CONCAT('dept ', dept_no)"], False),
    (["departments.dept_name='x'", "--where", "departments=dept_no = 'd001'",
      "--where", "dept_emp=dept_no = 'd001'", "--where", "dept_manager=dept_no = 'd001'"], False),
    (["employees.first_name='x'"], False),                          # no unique key
])
def test_a_rule_giving_two_rows_one_unique_key_stops_the_dump(rules: list[str], refused: bool, tmp_path: Path,
                                                              mysql_database_factory: Callable[[], str]) -> None:
    """``fixed:``, ``truncate:`` or an expression that gives two rows of a unique key the same value made a dump
    whose load failed on the INSERT (with InnoDB's ``Got error 1 "Operation not permitted" during COMMIT``)."""
    source = mysql_database_factory()
    load_employees(source)
    if rules[0].startswith("departments.dept_name=LEFT"):
        query(source, "INSERT INTO departments VALUES ('d004', 'Management')")  # 'M' twice
    args = ["--sanitize", rules[0], *rules[1:]]
    dump_file = tmp_path / "dump.sql"
    result = CliRunner().invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file), *args])
    if refused:
        assert result.exit_code == 1, result.output
        assert "gives two rows of departments the same unique key (dept_name)" in result.output
        assert not dump_file.exists()
        return
    assert result.exit_code == 0, result.output
    target = mysql_database_factory()
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
