package redis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/ports"
)

// maxClaimRounds bounds the XAUTOCLAIM cursor walk of one Claim per stream.
const maxClaimRounds = 16

// completeScript acknowledges a job and, only if that acknowledgement
// removed the entry from the group's pending list, appends its result and
// deletes the job entry from its stream (SPEC §4 retention: a job entry
// may carry secrets in env, so it does not outlive its result). KEYS: job
// stream, results stream. ARGV: group, job id, maxlen ("0" = no trimming),
// then the result's field/value pairs. It returns 1 when it wrote a result
// and 0 when the job was not pending (already completed).
var completeScript = rueidis.NewLuaScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) ~= 1 then
  return 0
end
if ARGV[3] == '0' then
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
else
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
end
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`)

// claimScript runs one XAUTOCLAIM and reads the delivery counter of every
// entry it claimed, atomically, so Job.Deliveries of a claimed job is the
// count Redis keeps (the dead-letter rule depends on it). KEYS: job
// stream. ARGV: group, consumer, min idle (ms), start, count. It returns
// {next cursor, entries, delivery counts in the order of entries}; an
// entry Redis reports as nil (deleted while pending, Redis 6.2) counts 0.
var claimScript = rueidis.NewLuaScript(`
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local counts = {}
for i, e in ipairs(r[2]) do
  counts[i] = 0
  if e then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    if p[1] then counts[i] = p[1][4] end
  end
end
return {r[1], r[2], counts}`)

// touchScript resets the idle time of entries this consumer still owns,
// keeping each one's delivery counter as it is (XCLAIM … RETRYCOUNT with
// the current count: a touch is not a delivery, whatever a server does
// with JUSTID). An entry no longer pending, or now owned by another
// consumer, is left alone. KEYS: job stream. ARGV: group, consumer, ids.
var touchScript = rueidis.NewLuaScript(`
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', p[1][4], 'JUSTID')
  end
end
return 0`)

// Queue implements ports.JobQueue for one consumer of the job streams'
// consumer group.
//
// Read asks XREADGROUP for up to count new entries of each job stream; when
// Redis returns more than count in total the rest is kept and handed out by
// the next Read (those entries are already on this consumer's pending list,
// so another instance claims them if this one dies). When the group has
// vanished (NOGROUP: Redis lost its data, or someone ran XGROUP DESTROY)
// Read, Claim and Pending re-create it and carry on. A re-created group
// starts after the newest entry this queue has read (or, before its first
// read, after the group's last delivered id when the queue was built):
// after a Redis restart without persistence that reads every job added
// since, and after an XGROUP DESTROY it may hand out again entries other
// consumers had read, which is safe because handling is idempotent; their
// results may then appear twice.
//
// Job.Deliveries is 1 for entries from Read. For claimed entries it is the
// delivery counter Redis keeps for the entry (every claim adds one; touches
// do not), read in the same script as the claim.
type Queue struct {
	c        *Client
	consumer string
	streams  []string

	mu       sync.Mutex
	buf      []ports.Job
	lastSeen map[string]string
}

var _ ports.JobQueue = (*Queue)(nil)

// Queue makes sure the consumer group exists on both job streams
// (XGROUP CREATE … $ MKSTREAM, an existing group is kept) and returns the
// queue of consumer, normally the instance id. Errors: ErrInvalid for an
// empty consumer, ErrUnavailable.
func (c *Client) Queue(ctx context.Context, consumer string) (*Queue, error) {
	if consumer == "" {
		return nil, fmt.Errorf("redis: queue: empty consumer name: %w", ports.ErrInvalid)
	}
	q := &Queue{c: c, consumer: consumer,
		streams:  []string{c.streams.StartJobs, c.streams.StopJobs},
		lastSeen: map[string]string{}}
	if err := q.ensureGroups(ctx); err != nil {
		return nil, err
	}
	for _, s := range q.streams {
		id, err := q.groupLastID(ctx, s)
		if err != nil {
			return nil, err
		}
		q.lastSeen[s] = id
	}
	return q, nil
}

// ensureGroups creates the group on every job stream that lacks it.
func (q *Queue) ensureGroups(ctx context.Context) error {
	rc := q.c.rc
	for _, s := range q.streams {
		q.mu.Lock()
		id := q.lastSeen[s]
		q.mu.Unlock()
		if id == "" {
			id = "$"
		}
		err := rc.Do(ctx, rc.B().XgroupCreate().Key(s).Group(q.c.streams.Group).Id(id).Mkstream().Build()).Error()
		if err != nil && !rueidis.IsRedisBusyGroup(err) {
			return fmt.Errorf("redis: create group on %s: %w", s, unavailable(err))
		}
	}
	return nil
}

// groupLastID returns the last delivered id of the group on stream.
func (q *Queue) groupLastID(ctx context.Context, stream string) (string, error) {
	rc := q.c.rc
	groups, err := rc.Do(ctx, rc.B().XinfoGroups().Key(stream).Build()).ToArray()
	if err != nil {
		return "", fmt.Errorf("redis: xinfo groups %s: %w", stream, unavailable(err))
	}
	for _, g := range groups {
		m, err := g.AsMap()
		if err != nil {
			continue
		}
		name, ok := m["name"]
		if !ok {
			continue
		}
		if n, _ := name.ToString(); n != q.c.streams.Group {
			continue
		}
		if last, ok := m["last-delivered-id"]; ok {
			if id, err := last.ToString(); err == nil && id != "" {
				return id, nil
			}
		}
	}
	return "0-0", nil
}

// Read implements ports.JobQueue. A block of zero or less does not block.
// Errors: ErrInvalid for count < 1, ErrUnavailable.
func (q *Queue) Read(ctx context.Context, count int, block time.Duration) ([]ports.Job, error) {
	if count < 1 {
		return nil, fmt.Errorf("redis: read count %d: %w", count, ports.ErrInvalid)
	}
	if jobs := q.takeBuffered(count); len(jobs) > 0 {
		return jobs, nil
	}
	jobs, err := q.read(ctx, count, block)
	if redisErrPrefix(err, "NOGROUP") {
		if err := q.ensureGroups(ctx); err != nil {
			return nil, err
		}
		jobs, err = q.read(ctx, count, block)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: read jobs: %w", unavailable(err))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		q.lastSeen[j.Stream] = j.ID // entries come in id order per stream
	}
	if len(jobs) > count {
		q.buf = append(q.buf, jobs[count:]...)
		jobs = jobs[:count:count]
	}
	return jobs, nil
}

// takeBuffered returns up to count jobs left over by an earlier Read.
func (q *Queue) takeBuffered(count int) []ports.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(count, len(q.buf))
	if n == 0 {
		return nil
	}
	jobs := append([]ports.Job(nil), q.buf[:n]...)
	q.buf = q.buf[n:]
	return jobs
}

// read runs one XREADGROUP over both job streams.
func (q *Queue) read(ctx context.Context, count int, block time.Duration) ([]ports.Job, error) {
	rc := q.c.rc
	g := rc.B().Xreadgroup().Group(q.c.streams.Group, q.consumer).Count(int64(count))
	var cmd rueidis.Completed
	if block > 0 {
		ms := max(int64(block/time.Millisecond), 1)
		cmd = g.Block(ms).Streams().Key(q.streams...).Id(">", ">").Build()
	} else {
		cmd = g.Streams().Key(q.streams...).Id(">", ">").Build()
	}
	msg, err := rc.Do(ctx, cmd).ToMessage()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeRead(msg, q.streams)
}

// Claim implements ports.JobQueue with XAUTOCLAIM on the start stream, then
// on the stop stream for what count leaves. Errors: ErrInvalid for
// count < 1, ErrUnavailable.
func (q *Queue) Claim(ctx context.Context, minIdle time.Duration, count int) ([]ports.Job, error) {
	if count < 1 {
		return nil, fmt.Errorf("redis: claim count %d: %w", count, ports.ErrInvalid)
	}
	var all []ports.Job
	for _, s := range q.streams {
		if len(all) >= count {
			break
		}
		jobs, err := q.claim(ctx, s, minIdle, count-len(all))
		if redisErrPrefix(err, "NOGROUP") {
			if err := q.ensureGroups(ctx); err != nil {
				return nil, err
			}
			continue // a new group has nothing pending
		}
		if err != nil {
			return nil, fmt.Errorf("redis: claim jobs on %s: %w", s, unavailable(err))
		}
		all = append(all, jobs...)
		q.pruneConsumers(ctx, s, minIdle)
	}
	return all, nil
}

// Touch implements ports.JobQueue with touchScript, one call per job: it
// resets the idle time of the jobs this consumer still owns and keeps
// their delivery counters.
func (q *Queue) Touch(ctx context.Context, jobs []ports.Job) error {
	for _, j := range jobs {
		err := touchScript.Exec(ctx, q.c.rc, []string{j.Stream}, []string{q.c.streams.Group, q.consumer, j.ID}).Error()
		if err != nil && !redisErrPrefix(err, "NOGROUP") {
			return fmt.Errorf("redis: touch job %s on %s: %w", j.ID, j.Stream, unavailable(err))
		}
	}
	return nil
}

// pruneAfter is how many claim-idle periods a consumer without pending
// entries must have been silent before it is deleted from the group.
const pruneAfter = 10

// pruneConsumers deletes consumers of the group on stream that hold no
// pending entry and have been silent for pruneAfter × minIdle: instances
// that exited (the default consumer name carries the pid, so every restart
// adds one). It is best-effort housekeeping; errors are ignored. A consumer
// deleted while alive is re-created by its next read.
func (q *Queue) pruneConsumers(ctx context.Context, stream string, minIdle time.Duration) {
	rc := q.c.rc
	infos, err := rc.Do(ctx, rc.B().XinfoConsumers().Key(stream).Group(q.c.streams.Group).Build()).ToArray()
	if err != nil {
		return
	}
	limit := (pruneAfter * minIdle).Milliseconds()
	for _, info := range infos {
		m, err := info.AsMap()
		if err != nil {
			continue
		}
		field := func(k string) rueidis.RedisMessage { return m[k] }
		nameMsg, pendMsg, idleMsg := field("name"), field("pending"), field("idle")
		name, _ := nameMsg.ToString()
		pending, _ := pendMsg.AsInt64()
		idle, _ := idleMsg.AsInt64()
		if name == "" || name == q.consumer || pending != 0 || idle < limit {
			continue
		}
		_ = rc.Do(ctx, rc.B().XgroupDelconsumer().Key(stream).Group(q.c.streams.Group).Consumername(name).Build()).Error()
	}
}

// claim walks XAUTOCLAIM's cursor on stream (claimScript) until it has
// count entries or reaches the end of the pending list.
func (q *Queue) claim(ctx context.Context, stream string, minIdle time.Duration, count int) ([]ports.Job, error) {
	idle := strconv.FormatInt(max(int64(minIdle/time.Millisecond), 0), 10)
	cursor := "0-0"
	var jobs []ports.Job
	for round := 0; round < maxClaimRounds && len(jobs) < count; round++ {
		args := []string{q.c.streams.Group, q.consumer, idle, cursor, strconv.Itoa(count - len(jobs))}
		parts, err := claimScript.Exec(ctx, q.c.rc, []string{stream}, args).ToArray()
		if err != nil {
			return nil, err
		}
		if len(parts) < 3 {
			return nil, fmt.Errorf("xautoclaim: reply has %d parts", len(parts))
		}
		next, err := parts[0].ToString()
		if err != nil {
			return nil, err
		}
		entries, err := parts[1].ToArray()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, err
		}
		counts, err := parts[2].ToArray()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, err
		}
		jobs = append(jobs, claimed(stream, entries, counts)...)
		if next == "0-0" || next == cursor {
			break
		}
		cursor = next
	}
	return jobs, nil
}

// claimed decodes the entries of one claimScript reply with their delivery
// counts; a count that is missing or not positive is taken as 2 (delivered
// before, and now once more).
func claimed(stream string, entries, counts []rueidis.RedisMessage) []ports.Job {
	var jobs []ports.Job
	for i, e := range entries {
		decoded := decodeEntries(stream, []rueidis.RedisMessage{e}, 2)
		if len(decoded) == 0 {
			continue
		}
		if i < len(counts) {
			if n, err := counts[i].AsInt64(); err == nil && n > 0 {
				decoded[0].Deliveries = n
			}
		}
		jobs = append(jobs, decoded...)
	}
	return jobs
}

// Complete implements ports.JobQueue: it acknowledges job, appends r to
// the results stream and deletes the job entry from its stream in one Lua
// script. The XADD and XDEL run only if the XACK removed the entry from
// the group's pending list, so however many consumers complete the same
// job (after a claim), exactly one result is written; a job already
// completed, or not pending at all (its group was re-created), writes
// nothing and is not an error.
//
// The result carries job.Stream and job.ID as job_stream and job_id (r's
// own JobStream and JobID must be empty or equal to them), and finished_at
// as RFC 3339 UTC (now when r.FinishedAt is zero). Errors: ErrInvalid,
// ErrUnavailable.
func (q *Queue) Complete(ctx context.Context, job ports.Job, r ports.JobResult) error {
	fields, err := q.resultFields(job, r)
	if err != nil {
		return err
	}
	args := append([]string{q.c.streams.Group, job.ID, q.c.maxLenArg()}, fields...)
	if err := completeScript.Exec(ctx, q.c.rc, []string{job.Stream, q.c.streams.JobResults}, args).Error(); err != nil {
		return fmt.Errorf("redis: complete %s %s: %w", job.Stream, job.ID, unavailable(err))
	}
	return nil
}

// resultFields checks that r belongs to job and returns the field/value
// pairs of its results entry. Errors: ErrInvalid.
func (q *Queue) resultFields(job ports.Job, r ports.JobResult) ([]string, error) {
	if job.Stream == "" || job.ID == "" {
		return nil, fmt.Errorf("redis: complete: job without stream or id: %w", ports.ErrInvalid)
	}
	if (r.JobStream != "" && r.JobStream != job.Stream) || (r.JobID != "" && r.JobID != job.ID) {
		return nil, fmt.Errorf("redis: complete %s %s: result names job %s %s: %w",
			job.Stream, job.ID, r.JobStream, r.JobID, ports.ErrInvalid)
	}
	finished := r.FinishedAt
	if finished.IsZero() {
		finished = q.c.now()
	}
	return []string{
		"job_stream", job.Stream,
		"job_id", job.ID,
		"game_id", r.GameID,
		"op_kind", string(r.OpKind),
		"outcome", string(r.Outcome),
		"error_code", string(r.ErrorCode),
		"error_message", r.ErrorMessage,
		"container_id", r.ContainerID,
		"endpoint", r.Endpoint,
		"finished_at", formatTime(finished),
	}, nil
}

// Pending implements ports.JobQueue with the XPENDING summary of each job
// stream. A vanished group is re-created and counts 0. Errors:
// ErrUnavailable.
func (q *Queue) Pending(ctx context.Context) (map[string]int64, error) {
	rc := q.c.rc
	out := make(map[string]int64, len(q.streams))
	for _, s := range q.streams {
		parts, err := rc.Do(ctx, rc.B().Xpending().Key(s).Group(q.c.streams.Group).Build()).ToArray()
		if redisErrPrefix(err, "NOGROUP") {
			if err := q.ensureGroups(ctx); err != nil {
				return nil, err
			}
			out[s] = 0
			continue
		}
		if err == nil && len(parts) == 0 {
			err = fmt.Errorf("xpending: empty reply")
		}
		if err != nil {
			return nil, fmt.Errorf("redis: pending on %s: %w", s, unavailable(err))
		}
		n, err := parts[0].AsInt64()
		if err != nil {
			return nil, fmt.Errorf("redis: pending on %s: %w", s, unavailable(err))
		}
		out[s] = n
	}
	return out, nil
}

// formatTime renders t as RFC 3339 in UTC with up to nanosecond precision.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
