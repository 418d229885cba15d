// Package redis implements rtmanager's Redis-backed ports with
// github.com/redis/rueidis: per-game leases (ports.LeaseStore), the job
// streams consumer (ports.JobQueue) and the health event stream
// (ports.HealthPublisher). The same adapter runs against a real redis-server
// and against the embedded in-process server that StartEmbedded provides.
//
// Stream trimming: runtime:job_results and runtime:health_events are
// append-only for rtmanager, so every XADD to them carries an approximate
// "MAXLEN ~ n" (Options.MaxLen, default 100000). Approximate trimming lets
// Redis drop whole macro nodes, so a stream may briefly hold somewhat more
// than n entries; readers that fall further behind than n entries lose the
// oldest ones. The job streams are not trimmed: instead each job entry is
// deleted (XDEL) by the same script that writes its result and acks it, as
// it may carry secrets in env (SPEC §4 retention); entries not yet handled
// stay.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/internal/redact"
	"github.com/galaxy-game/rtmanager/ports"
)

// DefaultMaxLen is the approximate length cap of the results and health
// streams when Options.MaxLen is zero.
const DefaultMaxLen = 100000

// Streams names the streams the adapter uses. The zero value means the
// names of SPEC §4 (see DefaultStreams); tests set their own names to stay
// isolated from each other.
type Streams struct {
	StartJobs    string
	StopJobs     string
	JobResults   string
	HealthEvents string
	// Group is the consumer group on both job streams.
	Group string
}

// DefaultStreams returns the stream names and consumer group fixed by SPEC §4.
func DefaultStreams() Streams {
	return Streams{
		StartJobs:    ports.StreamStartJobs,
		StopJobs:     ports.StreamStopJobs,
		JobResults:   ports.StreamJobResults,
		HealthEvents: ports.StreamHealthEvents,
		Group:        ports.ConsumerGroup,
	}
}

// withDefaults fills every empty name from DefaultStreams.
func (s Streams) withDefaults() Streams {
	d := DefaultStreams()
	if s.StartJobs == "" {
		s.StartJobs = d.StartJobs
	}
	if s.StopJobs == "" {
		s.StopJobs = d.StopJobs
	}
	if s.JobResults == "" {
		s.JobResults = d.JobResults
	}
	if s.HealthEvents == "" {
		s.HealthEvents = d.HealthEvents
	}
	if s.Group == "" {
		s.Group = d.Group
	}
	return s
}

// Options configures Connect. The zero value is the production setting.
type Options struct {
	// KeyPrefix is put in front of every lease key
	// (KeyPrefix + "rtmanager:lease:<game_id>") so several deployments or
	// tests can share one Redis. Stream names are not prefixed: they are
	// fixed by SPEC §4 and set through Streams instead.
	KeyPrefix string
	// Streams overrides the stream names; empty names take the SPEC names.
	Streams Streams
	// MaxLen is the approximate cap (XADD MAXLEN ~) of the results and
	// health streams; 0 means DefaultMaxLen and a negative value disables
	// trimming.
	MaxLen int64
	// ClientName is sent as CLIENT SETNAME, e.g. the instance id; optional.
	ClientName string
	// Now is the clock used for finished_at and occurred_at when a caller
	// left them zero; nil means time.Now.
	Now func() time.Time
}

// Client is a connection to one Redis server (or the embedded server). It is
// safe for concurrent use; Leases, Queue and HealthStream share it.
type Client struct {
	rc      rueidis.Client
	prefix  string
	streams Streams
	maxLen  int64
	now     func() time.Time
}

// Connect dials the Redis server at url (redis://[user:pass@]host:port[/db],
// rediss:// for TLS) and checks that it answers. Errors: ErrInvalid for a bad
// URL, ErrUnavailable when the server cannot be reached.
//
// The client always runs in single-node mode with client-side caching off
// (rueidis ForceSingleClient and DisableCache): rtmanager's Lua scripts touch
// a job stream and the results stream together, which a cluster would reject
// as cross-slot, and the embedded server (miniredis) needs both settings
// (without them rueidis picks cluster mode there and multi-key commands
// panic).
func Connect(ctx context.Context, url string, opts Options) (*Client, error) {
	co, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w: %w", ports.ErrInvalid, redact.Error(err))
	}
	co.ForceSingleClient = true
	co.DisableCache = true
	if opts.ClientName != "" {
		co.ClientName = opts.ClientName
	}
	rc, err := rueidis.NewClient(co)
	if err != nil {
		return nil, fmt.Errorf("redis: connect %s: %w", co.InitAddress, unavailable(err))
	}
	c := &Client{rc: rc, prefix: opts.KeyPrefix, streams: opts.Streams.withDefaults(),
		maxLen: opts.MaxLen, now: opts.Now}
	if c.maxLen == 0 {
		c.maxLen = DefaultMaxLen
	}
	if c.now == nil {
		c.now = time.Now
	}
	if err := c.Ping(ctx); err != nil {
		rc.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks that the server answers. Errors: ErrUnavailable.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rc.Do(ctx, c.rc.B().Ping().Build()).Error(); err != nil {
		return fmt.Errorf("redis: ping: %w", unavailable(err))
	}
	return nil
}

// Streams returns the stream names the client uses.
func (c *Client) Streams() Streams { return c.streams }

// Close closes every connection of the client. Leases, queues and health
// streams built from it stop working.
func (c *Client) Close() { c.rc.Close() }

// unavailable wraps err, a rueidis error or an error reply, so that it
// matches ports.ErrUnavailable while keeping the cause (and a caller's
// context error) visible to errors.Is.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ports.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
}

// redisErrPrefix reports whether err is an error reply whose text starts
// with prefix (e.g. "NOGROUP").
func redisErrPrefix(err error, prefix string) bool {
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		return false
	}
	msg := re.Error()
	return len(msg) >= len(prefix) && msg[:len(prefix)] == prefix
}

// maxLenArg returns the MAXLEN argument of the completion script; "0"
// disables trimming.
func (c *Client) maxLenArg() string {
	if c.maxLen < 0 {
		return "0"
	}
	return fmt.Sprint(c.maxLen)
}
