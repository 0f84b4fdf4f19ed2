-- Run once by the postgres image on an empty data volume, as POSTGRES_USER.
-- POSTGRES_DB already created "gdzwfw"; the other two services get their own.
CREATE DATABASE isso;
CREATE DATABASE refund;
