ALTER TABLE runtime_records DROP COLUMN restart_state;
--bun:split
ALTER TABLE runtime_records DROP COLUMN next_restart_at;
--bun:split
ALTER TABLE runtime_records DROP COLUMN restart_count;
--bun:split
ALTER TABLE runtime_records DROP COLUMN restart_policy;
