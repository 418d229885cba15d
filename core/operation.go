package core

import "time"

// OperationEntry is one append-only audit entry: one per operation attempt.
// Restart and patch write their own entry plus the inner stop and start
// entries, all sharing CorrelationID.
type OperationEntry struct {
	ID            int64
	GameID        string
	OpKind        OpKind
	OpSource      OpSource
	SourceRef     string
	CorrelationID string
	ImageRef      string
	ContainerID   string
	Outcome       Outcome
	ErrorCode     Code
	ErrorMessage  string
	StartedAt     time.Time
	FinishedAt    time.Time
}
