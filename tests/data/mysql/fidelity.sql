-- Fidelity fixture for the MySQL engine: every type at its limits, awkward identifiers, foreign keys in
-- both directions, an empty table, a view on a view, a trigger, a generated column; MariaDB sequences,
-- system-versioned tables with history, application-time periods, invisible columns, CHECK constraints,
-- comments, partitions; latin1 objects made under non-default sql_modes and a time zone; names qualified
-- with the database itself (written `fidelity_src`, which the tests replace with the database's name).
-- Loaded with the session settings of a dump (zero dates allowed, UTC).
SET NAMES utf8mb4;
SET time_zone = '+00:00';
SET sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
SET foreign_key_checks = 0;

CREATE TABLE `numbers` (
  `id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `ti` TINYINT, `tu` TINYINT UNSIGNED, `si` SMALLINT, `su` SMALLINT UNSIGNED, `mi` MEDIUMINT,
  `mu` MEDIUMINT UNSIGNED, `i` INT, `iu` INT UNSIGNED, `bi` BIGINT, `bu` BIGINT UNSIGNED,
  `d` DECIMAL(65,30), `d2` DECIMAL(10,2) UNSIGNED, `f` FLOAT, `db` DOUBLE, `bt1` BIT(1), `bt64` BIT(64),
  `bt10` BIT(10), `yr` YEAR, `bool` BOOLEAN
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO `numbers` VALUES
 (0, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,
  18446744073709551615, 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99,
  3.4028235e38, 1.7976931348623157e308, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
  b'1010101010', 2155, 1),
 (NULL, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
  -99999999999999999999999999999999999.999999999999999999999999999999, 0.01, 1.17549435e-38, 5e-324, b'0',
  b'0', b'0', 1901, 0),
 (NULL, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0.000000000000000000000000000001, 0, 0.1, 0.1, NULL, NULL, NULL, 0, NULL),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1.2345678, -0.30000000000000004,
  NULL, b'1000000000000000000000000000000000000000000000000000000000000000', NULL, NULL, NULL),
 (NULL, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -0.5, 1.5, 16777217, 2.2250738585072014e-308, NULL, NULL, NULL, 2000, NULL);

CREATE TABLE `times` (
  `id` INT NOT NULL PRIMARY KEY,
  `dt` DATE, `dtm` DATETIME, `dtm6` DATETIME(6), `ts` TIMESTAMP NULL DEFAULT NULL, `ts3` TIMESTAMP(3) NULL DEFAULT NULL,
  `tm` TIME, `tm6` TIME(6), `yr` YEAR
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO `times` VALUES
 (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', NULL, '00:00:00', '-838:59:59.000000', '0000'),
 (2, '1000-01-01', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999', '838:59:59', '-00:00:00.000001', 1901),
 (3, '2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', '2024-03-31 01:30:00', '2024-10-27 01:30:00.5', '-12:00:00', '23:59:59.999999', 2155),
 (4, '2024-00-00', NULL, NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE `strings` (
  `id` INT NOT NULL PRIMARY KEY,
  `c` CHAR(10), `vc` VARCHAR(255), `t` TEXT, `tt` TINYTEXT, `mt` MEDIUMTEXT, `lt` LONGTEXT,
  `lat` VARCHAR(50) CHARACTER SET latin1 COLLATE latin1_swedish_ci, `bin_coll` VARCHAR(50) COLLATE utf8mb4_bin,
  `e` ENUM('a','b','c d','it''s',''), `s` SET('x','y','z'), `j` JSON
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO `strings` VALUES
 (1, '', '', '', '', '', '', '', '', 'a', '', '{}'),
 (2, 'quote''', 'back\\slash', 'semi;colon -- not a comment', '/* not a comment */', 'nul\0byte', 'ctrl\Zz',
  'caf\xE9', 'CaSe', 'c d', 'x,z', '{"a": [1, 2.5, "x\\"y"], "b": null, "c": "\\u00e9"}'),
 (3, 'üñí', '😀 emoji 𝄞 𠜎', '\t\n\r tabs and newlines \\n', 'DELIMITER ;;', REPEAT('long ', 20000), REPEAT('x', 300000),
  'ÀÿÆ', 'Ω≈ç√', 'it''s', 'x,y,z', '[1, 2, 3]'),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 'trail  ', '  lead', CONCAT(CHAR(1), CHAR(2), CHAR(127)), '''''', 'x''y"z`w', '', '', '', 'b', 'y', '"string"');

CREATE TABLE `blobs` (
  `id` INT NOT NULL PRIMARY KEY,
  `b` BINARY(4), `vb` VARBINARY(255), `tb` TINYBLOB, `bl` BLOB, `mb` MEDIUMBLOB, `lb` LONGBLOB
) ENGINE=InnoDB;

INSERT INTO `blobs` VALUES
 (1, 0x00000000, '', '', '', '', ''),
 (2, 0x275C1A00, 0x00275C1A0D0A22603B, 0xFFFEFD, UNHEX(REPEAT('00FF275C', 1000)), UNHEX(REPEAT('0123456789ABCDEF', 40000)), 0x00),
 (3, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 'abc', 'text in binary', 'x', 'y', 'z', 'w');

CREATE TABLE `spatial` (
  `id` INT NOT NULL PRIMARY KEY,
  `g` GEOMETRY NULL, `p` POINT NULL, `poly` POLYGON NULL
) ENGINE=InnoDB;

INSERT INTO `spatial` VALUES
 (1, ST_GeomFromText('LINESTRING(0 0, 1 1, 2.5 -3.25)'), ST_GeomFromText('POINT(1.5 -2.25)'),
  ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))')),
 (2, ST_GeomFromText('POINT(3 4)', 4326), NULL, NULL),
 (3, NULL, NULL, NULL);

CREATE TABLE `select` (
  `from` INT NOT NULL PRIMARY KEY,
  `back``tick` VARCHAR(20),
  `order` INT,
  `with space` VARCHAR(10),
  `gen` INT AS (`from` * 2) VIRTUAL,
  `gen_stored` VARCHAR(40) AS (CONCAT(`back``tick`, '!')) STORED
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO `select` (`from`, `back``tick`, `order`, `with space`) VALUES (1, 'x`y', 10, 'a b'), (2, NULL, NULL, NULL);

CREATE TABLE `parent` (
  `id` INT NOT NULL PRIMARY KEY,
  `favourite_child` INT NULL,
  `name` VARCHAR(20),
  KEY `fk_fav` (`favourite_child`),
  CONSTRAINT `fk_fav` FOREIGN KEY (`favourite_child`) REFERENCES `child` (`id`) ON DELETE SET NULL
) ENGINE=InnoDB;

CREATE TABLE `child` (
  `id` INT NOT NULL PRIMARY KEY,
  `parent_id` INT NOT NULL,
  KEY `fk_parent` (`parent_id`),
  CONSTRAINT `fk_parent` FOREIGN KEY (`parent_id`) REFERENCES `parent` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB;

INSERT INTO `parent` VALUES (1, 10, 'one'), (2, NULL, 'two');
INSERT INTO `child` VALUES (10, 1), (11, 1), (12, 2);

CREATE TABLE `empty table` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `note` VARCHAR(10) DEFAULT 'x'
) ENGINE=InnoDB AUTO_INCREMENT=42;

CREATE TABLE `no_pk` (`a` INT, `b` VARCHAR(5)) ENGINE=MyISAM;
INSERT INTO `no_pk` VALUES (1, 'x'), (1, 'x'), (NULL, NULL);

CREATE TABLE `audit` (`id` INT AUTO_INCREMENT PRIMARY KEY, `child_id` INT, `at` VARCHAR(10)) ENGINE=InnoDB;

DELIMITER ;;
CREATE TRIGGER `child_audit` AFTER INSERT ON `child` FOR EACH ROW
BEGIN
  INSERT INTO `audit` (`child_id`, `at`) VALUES (NEW.`id`, 'insert;');
END ;;
DELIMITER ;

CREATE VIEW `parent_names` AS SELECT `id`, `name` FROM `parent`;
CREATE VIEW `a_view_on_view` AS SELECT `name` FROM `parent_names` WHERE `id` > 0;

-- Sequences in every state: cycled (with a comment), descending and used, run out; two feed defaults of one
-- table (each default must be moved to the copy's database in the same ALTER, or the other one is dangling).
CREATE SEQUENCE `seq_cycle` START WITH 100 MINVALUE 10 MAXVALUE 1000 INCREMENT BY 7 CACHE 5 CYCLE COMMENT 'cycles';
DO SETVAL(`seq_cycle`, 45, 0, 4);
CREATE SEQUENCE `seq_down` START WITH -1 MINVALUE -100 MAXVALUE -1 INCREMENT BY -3 NOCACHE;
DO NEXTVAL(`seq_down`), NEXTVAL(`seq_down`);
CREATE SEQUENCE `seq_done` START WITH 5 MINVALUE 1 MAXVALUE 6 NOCACHE NOCYCLE;
DO NEXTVAL(`seq_done`), NEXTVAL(`seq_done`);
CREATE TABLE `ticket` (
  `id` INT NOT NULL DEFAULT nextval(`fidelity_src`.`seq_cycle`) PRIMARY KEY,
  `note` VARCHAR(20) INVISIBLE DEFAULT 'hidden',
  `qty` INT NOT NULL DEFAULT 1 CHECK (`qty` > 0),
  `last_done` INT DEFAULT lastval(`fidelity_src`.`seq_done`),
  CONSTRAINT `ticket_note` CHECK (`note` <> 'forbidden')
) ENGINE=InnoDB COMMENT='tickets; numbered by a sequence' ROW_FORMAT=DYNAMIC;
INSERT INTO `ticket` (`id`, `note`, `qty`) VALUES (1, 'first', 2), (2, DEFAULT, 1);

-- System versioning with its history: implicit periods, named invisible periods, history partitions.
SET time_zone = '+00:00';
CREATE TABLE `prices` (`id` INT NOT NULL PRIMARY KEY, `price` DECIMAL(8,2)) WITH SYSTEM VERSIONING;
INSERT INTO `prices` VALUES (1, 1.50), (2, 2.50), (3, 3.50);
UPDATE `prices` SET `price` = `price` * 2 WHERE `id` < 3;
UPDATE `prices` SET `price` = `price` + 1 WHERE `id` = 1;
DELETE FROM `prices` WHERE `id` = 3;
CREATE TABLE `prices_named` (
  `sku` VARCHAR(10) NOT NULL,
  `price` INT,
  `valid_from` TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE,
  `valid_to` TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE,
  PERIOD FOR SYSTEM_TIME (`valid_from`, `valid_to`),
  PRIMARY KEY (`sku`)
) WITH SYSTEM VERSIONING;
INSERT INTO `prices_named` (`sku`, `price`) VALUES ('a', 1), ('b', 2);
UPDATE `prices_named` SET `price` = `price` + 10;
CREATE TABLE `prices_parted` (`id` INT, `v` VARCHAR(5)) WITH SYSTEM VERSIONING
  PARTITION BY SYSTEM_TIME (PARTITION `p_history` HISTORY, PARTITION `p_current` CURRENT);
INSERT INTO `prices_parted` VALUES (1, 'a'), (1, 'a');
UPDATE `prices_parted` SET `v` = 'b';

-- An application-time period with a key WITHOUT OVERLAPS; a composite key of an integer and a date.
CREATE TABLE `bookings` (
  `room` INT NOT NULL, `guest` VARCHAR(20), `from` DATE NOT NULL, `to` DATE NOT NULL,
  PERIOD FOR `stay` (`from`, `to`),
  UNIQUE KEY `no_double_booking` (`room`, `stay` WITHOUT OVERLAPS)
);
INSERT INTO `bookings` VALUES (1, 'ann', '2024-01-01', '2024-01-05'), (1, 'bob', '2024-01-05', '2024-01-09');
CREATE TABLE `daily` (`account` INT NOT NULL, `day` DATE NOT NULL, `visits` INT, PRIMARY KEY (`account`, `day`))
  PARTITION BY HASH (`account`) PARTITIONS 3;
INSERT INTO `daily` SELECT 1 + seq DIV 10, '2024-01-01' + INTERVAL seq % 10 DAY, seq FROM seq_0_to_99;
CREATE TABLE `by_name` (`code` VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, `uuid` UUID,
  `ip` INET6, `at` DATETIME(3) NOT NULL, KEY `by_time` (`at`) COMMENT 'index comment')
  DEFAULT CHARSET=utf8mb4 COMMENT='keyed by a string';
INSERT INTO `by_name` VALUES ('a', '123e4567-e89b-12d3-a456-426614174000', '::1', '2024-01-01 00:00:00.5'),
  ('B', NULL, '192.0.2.1', '2024-01-01 00:00:01'), ('c ', UUID(), NULL, '2024-01-01 00:00:02');

-- Objects made by a latin1 client, under non-default sql_modes and a time zone, naming their own database.
SET NAMES latin1;
SET time_zone = '+05:00';
CREATE TABLE `latin_notes` (`id` INT PRIMARY KEY, `note` VARCHAR(20)) DEFAULT CHARSET=latin1;
SET sql_mode = 'NO_BACKSLASH_ESCAPES';
DELIMITER ;;
CREATE FUNCTION fidelity_src.`double_it`(x INT) RETURNS INT DETERMINISTIC RETURN x * 2 ;;
CREATE PROCEDURE `count_notes`(OUT n INT) COMMENT 'counts \ notes'
BEGIN
  SELECT COUNT(*) INTO n FROM fidelity_src.latin_notes WHERE note <> 'a\b;;' AND fidelity_src.double_it(id) > 0;
END ;;
DELIMITER ;
SET sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT';
CREATE VIEW "latin_view" AS SELECT 'Über' || "note" AS "shout", fidelity_src.double_it("id") AS "doubled"
  FROM fidelity_src."latin_notes";
CREATE TRIGGER fidelity_src.latin_stamp BEFORE INSERT ON fidelity_src.latin_notes FOR EACH ROW
  SET NEW."note" = 'é' || NEW."note";
CREATE EVENT "latin_event" ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE
  COMMENT 'runs at 00:00 in +05:00' DO INSERT INTO fidelity_src."latin_notes" VALUES (99, 'Ä' || 'event');
SET NAMES utf8mb4;
SET sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
SET time_zone = '+00:00';
INSERT INTO `latin_notes` VALUES (1, 'caf');

SET foreign_key_checks = 1;
