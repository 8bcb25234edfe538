-- Fidelity fixture for the MySQL engine: every type at its limits, awkward identifiers, foreign keys in
-- both directions, an empty table, a view on a view, a trigger, a generated column. Loaded with the
-- session settings of a dump (zero dates allowed, UTC).
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

SET foreign_key_checks = 1;
