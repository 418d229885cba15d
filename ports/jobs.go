package ports

import (
	"context"
	"time"

	"github.com/galaxy-game/rtmanager/core"
)

// Stream names of SPEC §4.
const (
	StreamStartJobs    = "runtime:start_jobs"
	StreamStopJobs     = "runtime:stop_jobs"
	StreamJobResults   = "runtime:job_results"
	StreamHealthEvents = "runtime:health_events"
	ConsumerGroup      = "rtmanager"
)

// Job is one entry read from a job stream.
type Job struct {
	// Stream is the job stream the entry came from.
	Stream string
	// ID is the stream entry id; it is unique only within Stream, so
	// callers key jobs by (Stream, ID).
	ID string
	// Fields are the entry's raw fields; decoding and validation belong to
	// the ingress so a malformed entry still gets a result.
	Fields map[string]string
	// Deliveries counts how often the entry was delivered (1 the first time).
	Deliveries int64
	// Seq is the job's order across both job streams, taken from ID by the
	// queue (zero when ID is not an entry id); core refuses a job older than
	// one it already decided for the same game.
	Seq core.JobSeq
}

// JobResult is the runtime:job_results entry for one job.
type JobResult struct {
	JobStream    string
	JobID        string
	GameID       string
	OpKind       core.OpKind
	Outcome      core.Outcome
	ErrorCode    core.Code
	ErrorMessage string
	ContainerID  string
	Endpoint     string
	FinishedAt   time.Time
}

// JobQueue is the consumer side of the job streams for one consumer of the
// rtmanager group.
type JobQueue interface {
	// Read blocks up to block for new entries of the job streams and
	// returns at most count of them. No entries is an empty slice. Entries
	// read from Redis but held back by count are already pending on this
	// consumer. Errors: ErrUnavailable.
	Read(ctx context.Context, count int, block time.Duration) ([]Job, error)
	// Claim takes over up to count entries that sat pending on any consumer
	// for longer than minIdle. Errors: ErrUnavailable.
	Claim(ctx context.Context, minIdle time.Duration, count int) ([]Job, error)
	// Complete writes r to runtime:job_results and acknowledges the job in
	// one atomic step, so a job gets exactly one result: completing a job
	// that was already completed (e.g. by another consumer after a claim)
	// writes nothing and is not an error. Errors: ErrUnavailable.
	Complete(ctx context.Context, job Job, r JobResult) error
	// Touch tells the group this consumer is still handling jobs (which it
	// read or claimed), resetting their idle time so no other consumer
	// claims them while they run. A touch is not a delivery: it leaves the
	// delivery count as it is. A job no longer pending, or now pending on
	// another consumer (which claimed it), is skipped.
	// Errors: ErrUnavailable.
	Touch(ctx context.Context, jobs []Job) error
	// Pending returns the number of pending entries per job stream.
	// Errors: ErrUnavailable.
	Pending(ctx context.Context) (map[string]int64, error)
}
