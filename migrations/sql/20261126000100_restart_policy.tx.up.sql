-- Automatic restarts (SPEC §3a). restart_policy is the game's policy as
-- JSON {mode, max_restarts, window}; records from before it never restart.
ALTER TABLE runtime_records ADD COLUMN restart_policy TEXT NOT NULL DEFAULT '{"mode":"never","max_restarts":5,"window":"10m0s"}';
--bun:split
-- Automatic restarts since the last operator or platform start.
ALTER TABLE runtime_records ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
--bun:split
-- When a pending automatic restart is due; NULL when none is. The
-- schedule lives here, so a restarted rtmanager (or another instance)
-- finds it.
ALTER TABLE runtime_records ADD COLUMN next_restart_at {{.Time}};
--bun:split
-- The restart bookkeeping as JSON: streak, the restart times within the
-- window, the exit that scheduled the pending restart and its backoff.
ALTER TABLE runtime_records ADD COLUMN restart_state TEXT NOT NULL DEFAULT '{}';
