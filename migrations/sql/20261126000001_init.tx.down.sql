DROP TABLE IF EXISTS health_snapshots;
--bun:split
DROP TABLE IF EXISTS operation_log;
--bun:split
DROP TABLE IF EXISTS runtime_records;
