-- synco MySQL/MariaDB dump (synco 0.1.0)
-- Server version: 10.11.19-MariaDB-0+deb12u1
-- Database: synco_test_h_upgrade_msrc

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
/*!40101 SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT */;

--
-- Table structure for `posts`
--

DROP TABLE IF EXISTS `posts`;
/*!40101 SET @saved_cs_client = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `posts` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `title` varchar(100) NOT NULL,
  `body` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`body`)),
  `amount` decimal(10,2) DEFAULT NULL,
  `data` blob DEFAULT NULL,
  `d` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

/*!40000 ALTER TABLE `posts` DISABLE KEYS */;
SET autocommit=0;
-- synco-size: 171
INSERT INTO `posts` (`id`,`title`,`body`,`amount`,`data`,`d`) VALUES (1,'hÃ©llo','{"a":1}',12.50,_binary'\0ÿ','2024-01-01 00:00:00.123'),(2,'tab	here',NULL,NULL,NULL,NULL);
COMMIT;
/*!40000 ALTER TABLE `posts` ENABLE KEYS */;
SET autocommit=1;

--
-- Placeholder views, so that views on views load in any order
--

DROP TABLE IF EXISTS `v`;
/*!50001 DROP VIEW IF EXISTS `v` */;
CREATE VIEW `v` AS SELECT 1 AS `title`;

/*!50001 DROP VIEW IF EXISTS `v` */;
CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select `posts`.`title` AS `title` from `posts`;

/*!40101 SET AUTOCOMMIT=@OLD_AUTOCOMMIT */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- synco-manifest: {"table": "posts", "rows": 2, "checksum": "crc32sum:4708823359"}
-- synco-dump-complete
