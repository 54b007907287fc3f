/*!50001 /* inner */ SELECT 1 */;
/*!40101 SET x = 'a*/b' */;
