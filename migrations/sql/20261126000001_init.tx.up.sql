-- The runtime record: one per game, the source of truth (SPEC §2).
-- Template data picks the per-dialect types: game ids are text compared
-- bytewise (COLLATE "C" on PostgreSQL, BINARY on SQLite), so keyset paging
-- orders them the same way on every database and in the memory fake.
CREATE TABLE runtime_records (
    game_id              {{.Key}} NOT NULL PRIMARY KEY,
    status               TEXT NOT NULL,
    current_container_id TEXT NOT NULL DEFAULT '',
    current_image_ref    TEXT NOT NULL DEFAULT '',
    endpoint             TEXT NOT NULL DEFAULT '',
    generation           BIGINT NOT NULL DEFAULT 0,
    -- The job environment the current image started with, a JSON object.
    env                  TEXT NOT NULL DEFAULT '{}',
    created_at           {{.Time}} NOT NULL,
    started_at           {{.Time}},
    stopped_at           {{.Time}},
    removed_at           {{.Time}},
    last_op_at           {{.Time}} NOT NULL
);
--bun:split
-- List by status pages in game_id order: WHERE status = ? AND game_id > ?.
CREATE INDEX runtime_records_status_game_id ON runtime_records (status, game_id);
--bun:split
-- The append-only audit of operation attempts.
CREATE TABLE operation_log (
    id             {{.Serial}},
    game_id        {{.Key}} NOT NULL,
    op_kind        TEXT NOT NULL,
    op_source      TEXT NOT NULL,
    source_ref     TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    image_ref      TEXT NOT NULL DEFAULT '',
    container_id   TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL,
    error_code     TEXT NOT NULL DEFAULT '',
    error_message  TEXT NOT NULL DEFAULT '',
    started_at     {{.Time}} NOT NULL,
    finished_at    {{.Time}} NOT NULL
);
--bun:split
-- A game's entries newest first: WHERE game_id = ? ORDER BY id DESC.
CREATE INDEX operation_log_game_id_id ON operation_log (game_id, id DESC);
--bun:split
-- The latest health event of each game; details is a JSON object as text.
CREATE TABLE health_snapshots (
    game_id              {{.Key}} NOT NULL PRIMARY KEY,
    container_id         TEXT NOT NULL DEFAULT '',
    last_event_type      TEXT NOT NULL,
    last_event_at        {{.Time}} NOT NULL,
    details              TEXT NOT NULL DEFAULT '{}',
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);
