// Package lifecycle implements rtmanager's five lifecycle operations —
// start, stop, restart, patch and cleanup — over the roles in package ports.
//
// Every service has Handle, which takes the game's lease for the duration of
// the operation, and Run, which assumes the caller already holds it (restart
// and patch compose the stop and start Runs under their own lease). Business
// outcomes come back in a Result; the Go error of Handle and Run is reserved
// for programmer errors such as a nil context.
//
// One mechanism, op.finish, records every outcome: the audit entry, the
// telemetry and one log line. Steps only return a record and a coded error.
package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultStopTimeout  = 10 * time.Second
	DefaultStartTimeout = 30 * time.Second
	DefaultLeaseTTL     = 30 * time.Second
	DefaultEnginePort   = 8080
	DefaultHostIP       = "127.0.0.1"
	DefaultReadyPoll    = 50 * time.Millisecond
	// Restart defaults of SPEC §3a.
	DefaultRestartMax        = 5
	DefaultRestartWindow     = 10 * time.Minute
	DefaultRestartBackoff    = 10 * time.Second
	DefaultRestartBackoffMax = 5 * time.Minute
	DefaultRestartResetAfter = 10 * time.Minute
	// cleanupTimeout bounds the work done after an operation's context
	// ended: releasing the lease, removing a container a failed start made.
	cleanupTimeout = 15 * time.Second
)

// Config holds the operation settings of SPEC §8.
type Config struct {
	StopTimeout  time.Duration
	StartTimeout time.Duration
	LeaseTTL     time.Duration
	EnginePort   int
	HostIP       string
	// ReadyPoll is how often a start checks whether the engine is ready.
	ReadyPoll time.Duration
	Allow     core.ImageAllow
	Limits    ports.Limits
	// PullPolicy says when a start pulls its image; empty means
	// core.PullIfNotPresent.
	PullPolicy core.PullPolicy
	// PullTimeout bounds one image pull (DefaultPullTimeout when zero).
	PullTimeout time.Duration
	// Scope is the deployment scope (RTMANAGER_SCOPE) put on every
	// container; the reconciler and monitor ignore containers of other
	// scopes and it is part of container names (core.ContainerName).
	// Empty means ports.DefaultScope; otherwise core.ValidateScope applies.
	Scope string
	// ImageSchemes are the image reference schemes the driver runs
	// besides registry references, e.g. core.FileScheme for the process
	// plugin; a reference with another scheme is invalid_request.
	ImageSchemes []string
	// EnvDeny is RTMANAGER_ENV_DENY; nil means core.DefaultEnvDeny.
	EnvDeny core.EnvDeny
	// MaxInflight caps the operations (Handle calls) this instance runs
	// at once (RTMANAGER_MAX_INFLIGHT); 0 means DefaultMaxInflight.
	MaxInflight int
	// MaxRuntimes caps running + starting records (RTMANAGER_MAX_RUNTIMES);
	// 0 means no limit.
	MaxRuntimes int
	// EngineUser is the numeric uid:gid engines run as
	// (RTMANAGER_ENGINE_USER); empty keeps the image's user.
	EngineUser string
	// ReadOnlyRootFS runs engines on a read-only root filesystem with a
	// tmpfs /tmp (RTMANAGER_READ_ONLY_ROOTFS).
	ReadOnlyRootFS bool
	// Restart holds the restart policy defaults and the backoff (SPEC §3a).
	Restart RestartConfig
	// Unbatched makes every lease acquisition, lease release and audit
	// append its own round trip, as before issue 17; by default calls made
	// at the same moment share one (see batched). For side-by-side
	// measurements only.
	Unbatched bool
	// SerialReads makes a stream job read its record and then the game's
	// newest audit entries one after the other, as before issue 17's P3
	// follow-up; by default both reads run at once (see loadOrdered). For
	// side-by-side measurements only.
	SerialReads bool
	// SingleCreates makes every start write its reservation with its own
	// Create, as before issue 17's P3 follow-up; by default reservations
	// written at the same moment share one statement (see batchedCreate).
	// For side-by-side measurements only.
	SingleCreates bool
	// BatchRunningWrites makes the running writes (record, audit entry and
	// snapshot) of starts finishing at the same moment share one pipelined
	// transaction (see batchedSwapSnap). Measured and not the default: the
	// batch's statements run one after another on one connection, which
	// costs more latency than the shared commit saves (docs/BENCHMARKS.md,
	// P3). For side-by-side measurements only.
	BatchRunningWrites bool
}

// RestartConfig is the automatic-restart configuration
// (RTMANAGER_RESTART_*). Zero fields take the SPEC defaults.
type RestartConfig struct {
	// Default is the policy of a start that names none; the zero policy
	// means never, 5 restarts, 10m.
	Default core.RestartPolicy
	Backoff core.Backoff
}

// withDefaults fills zero fields with the SPEC defaults and validates.
func (c RestartConfig) withDefaults() (RestartConfig, error) {
	if c.Default == (core.RestartPolicy{}) {
		c.Default = core.RestartPolicy{Mode: core.RestartNever, MaxRestarts: DefaultRestartMax, Window: DefaultRestartWindow}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.Backoff.Base, DefaultRestartBackoff},
		{&c.Backoff.Max, DefaultRestartBackoffMax}, {&c.Backoff.ResetAfter, DefaultRestartResetAfter},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if err := c.Default.Validate(); err != nil {
		return c, fmt.Errorf("lifecycle: default restart policy: %s", core.MessageOf(err))
	}
	if err := c.Backoff.Validate(); err != nil {
		return c, fmt.Errorf("lifecycle: %w", err)
	}
	return c, nil
}

// Deps are the collaborators of the lifecycle services.
type Deps struct {
	Records    ports.RecordStore
	Operations ports.OperationLog
	Leases     ports.LeaseStore
	Driver     ports.RuntimeDriver
	Health     ports.HealthPublisher
	// Snapshots keeps each game's latest health snapshot; every published
	// health event is upserted there.
	Snapshots ports.SnapshotStore
	// Prober checks engine readiness over HTTP; nil means a running
	// container counts as ready.
	Prober ports.Prober
	// Telemetry defaults to ports.NopTelemetry.
	Telemetry ports.Telemetry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// NewToken returns a unique random token for leases and correlation
	// ids; it defaults to 16 bytes from crypto/rand, hex-encoded.
	NewToken func() (string, error)
	Config   Config
}

// Services bundles the five lifecycle services, which share one base, and
// builds the background workers (reconciler, janitor, monitor) on it.
type Services struct {
	Start   *Starter
	Stop    *Stopper
	Restart *Restarter
	Patch   *Patcher
	Cleanup *Cleaner
	// Images pulls engine images (pre-pull) under the same singleflight
	// the starts use.
	Images *Images

	b *base
}

// New validates deps, applies defaults and returns the services.
func New(deps Deps) (*Services, error) {
	switch {
	case deps.Records == nil:
		return nil, errors.New("lifecycle: nil Records")
	case deps.Operations == nil:
		return nil, errors.New("lifecycle: nil Operations")
	case deps.Leases == nil:
		return nil, errors.New("lifecycle: nil Leases")
	case deps.Driver == nil:
		return nil, errors.New("lifecycle: nil Driver")
	case deps.Health == nil:
		return nil, errors.New("lifecycle: nil Health")
	case deps.Snapshots == nil:
		return nil, errors.New("lifecycle: nil Snapshots")
	}
	c := &deps.Config
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
		key string
	}{
		{&c.StopTimeout, DefaultStopTimeout, "StopTimeout"},
		{&c.StartTimeout, DefaultStartTimeout, "StartTimeout"},
		{&c.LeaseTTL, DefaultLeaseTTL, "LeaseTTL"},
		{&c.ReadyPoll, DefaultReadyPoll, "ReadyPoll"},
		{&c.PullTimeout, DefaultPullTimeout, "PullTimeout"},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("lifecycle: negative %s %s", d.key, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.EnginePort == 0 {
		c.EnginePort = DefaultEnginePort
	}
	if c.EnginePort < 0 || c.EnginePort > 65535 {
		return nil, fmt.Errorf("lifecycle: engine port %d out of range", c.EnginePort)
	}
	if c.HostIP == "" {
		c.HostIP = DefaultHostIP
	}
	policy, err := core.ParsePullPolicy(string(c.PullPolicy))
	if err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	c.PullPolicy = policy
	if c.Scope == "" {
		c.Scope = ports.DefaultScope
	}
	if err := core.ValidateScope(c.Scope); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	deps.Driver = scopedDriver{RuntimeDriver: deps.Driver, scope: c.Scope}
	plainLeases := deps.Leases
	deps, getRecord := batched(deps)
	createRecord, swapSnap := batchedCreate(deps), batchedSwapSnap(deps)
	rc, err := c.Restart.withDefaults()
	if err != nil {
		return nil, err
	}
	c.Restart = rc
	if deps.Telemetry == nil {
		deps.Telemetry = ports.NopTelemetry{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewToken == nil {
		deps.NewToken = randomToken
	}
	adm, err := newAdmission(*c)
	if err != nil {
		return nil, err
	}
	b := &base{Deps: deps, log: deps.Logger.With("component", "lifecycle"), admit: adm, due: newDueSet(),
		getRecord: getRecord, createRecord: createRecord, swapSnap: swapSnap, plainLeases: plainLeases}
	b.images = newImages(b, ports.ImagesOf(deps.Driver))
	s := &Services{b: b, Start: &Starter{}, Stop: &Stopper{}, Cleanup: &Cleaner{}, Images: b.images}
	s.Restart = &Restarter{start: s.Start, stop: s.Stop}
	s.Patch = &Patcher{start: s.Start, stop: s.Stop}
	s.Start.service = service[StartInput]{b, s.Start.spec}
	s.Stop.service = service[StopInput]{b, s.Stop.spec}
	s.Cleanup.service = service[CleanupInput]{b, s.Cleanup.spec}
	s.Restart.service = service[RestartInput]{b, s.Restart.spec}
	s.Patch.service = service[PatchInput]{b, s.Patch.spec}
	return s, nil
}

// Meta says where an operation came from.
type Meta struct {
	Source core.OpSource
	// SourceRef is the stream entry id, REST request id or admin user.
	SourceRef string
	// CorrelationID ties entries of one composed operation together; empty
	// means a new one is generated.
	CorrelationID string
	// QuietBusy: the caller retries when the game's lease is held, so a
	// busy conflict is not recorded (no audit entry, no metric); the
	// caller's last attempt leaves it false.
	QuietBusy bool
	// Seq is a stream job's order (zero for other sources). Under the
	// game's lease, a start or stop whose Seq is older than a stream job
	// of the game already decided is not applied: it ends in conflict, so
	// a late or redelivered job never undoes a newer one.
	Seq core.JobSeq
}

// Result is the outcome of one operation.
type Result struct {
	// Record is the runtime record after the operation, as far as it is
	// known; zero when the game has no record.
	Record  core.Record
	Outcome core.Outcome
	// ErrorCode is empty for a fresh success, replay_no_op for a replay,
	// and the failure code otherwise.
	ErrorCode core.Code
	// ErrorMessage explains a failure; empty on success.
	ErrorMessage string
	// CorrelationID is the id shared by the operation's audit entries.
	CorrelationID string
	// Busy is set when the operation did not run because another
	// operation held the game's lease (conflict) or a capacity limit was
	// reached (capacity_exceeded): retrying later may succeed.
	Busy bool
}

// Err returns the failure as a *core.Error, or nil on success and replay.
func (r Result) Err() error {
	if r.Outcome == core.OutcomeSuccess {
		return nil
	}
	return &core.Error{Code: r.ErrorCode, Message: r.ErrorMessage}
}

// base holds what every service shares.
type base struct {
	Deps
	log    *slog.Logger
	admit  *admission
	images *Images
	// due holds the pending automatic restarts this instance knows of; the
	// records are the truth, this only says when to look.
	due *dueSet
	// getRecord reads a record through the read batch (see batched); nil
	// means Records.Get.
	getRecord func(context.Context, string) (core.Record, error)
	// createRecord writes a reservation through the create batch (see
	// batchedCreate); nil means Records.Create.
	createRecord func(context.Context, core.Record) error
	// swapSnap writes a start's running record, entry and snapshot through
	// the batch (see batchedSwapSnap); nil means SwapAppendSnapshot.
	swapSnap func(context.Context, ports.SwapSnapshot) error
	// plainLeases is Leases before batching: the store a
	// ports.PublishReleaser recognises as its own (the batch wrapper would
	// hide it and cost the start's event its shared round trip).
	plainLeases ports.LeaseStore
}

func randomToken() (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:]), nil
}

// step is the body of one operation: it returns the record it leaves and a
// coded error (nil for success, a replay_no_op error for a replay).
type step func(ctx context.Context, o *op) (core.Record, error)

// operation is one lifecycle operation about to run.
type operation struct {
	kind core.OpKind
	game string
	meta Meta
	// validate checks the input before anything is read; nil accepts it.
	validate func() error
	// prepare, when set, runs after validate and before the game's lease
	// is taken (Handle only), for slow work that needs no lease: pulling
	// the image. Its error ends the operation like the body's.
	prepare func(ctx context.Context) error
	body    step
}

// quiet says which outcomes of an operation leave no trace (no audit
// entry, no metric, a debug line only).
type quiet uint8

const (
	// recordAll records every outcome.
	recordAll quiet = iota
	// quietBusy: the caller retries when the lease is held, so a busy
	// conflict is not recorded.
	quietBusy
	// quietRepair: a background repair that found the lease held, or found
	// nothing to repair, records nothing; the operation holding the lease
	// settles the game, and the next pass looks again.
	quietRepair
)

// runOpts say how run executes an operation.
type runOpts struct {
	// lease: take the game's lease around the body (Handle); without it
	// the caller holds it (Run).
	lease bool
	quiet quiet
}

// service gives the operation built by spec its Handle and Run.
type service[In any] struct {
	b    *base
	spec func(In) operation
}

// Handle runs the operation under the game's lease: Run wrapped in taking
// the lease (a held lease is a conflict with Result.Busy set), renewing it
// while the operation runs, and releasing it with a fresh bounded context
// once the outcome is recorded. Outcomes are listed on each service.
func (s service[In]) Handle(ctx context.Context, in In) (Result, error) {
	return s.b.run(ctx, s.spec(in), runOpts{lease: true})
}

// Run runs the operation for a caller that already holds the game's lease
// (restart and patch compose the stop and start Runs under their own).
func (s service[In]) Run(ctx context.Context, in In) (Result, error) {
	return s.b.run(ctx, s.spec(in), runOpts{})
}

// background runs a reconciler or monitor repair of game under its lease;
// a held lease or a record that needs nothing leaves no trace but a debug
// line.
func (b *base) background(ctx context.Context, game string, body step) (Result, error) {
	return b.run(ctx, operation{kind: core.OpReconcile, game: game,
		meta: Meta{Source: core.SourceReconciler}, body: body}, runOpts{lease: true, quiet: quietRepair})
}

// run runs one operation: validate, then the body (under the game's lease
// when opts.lease is set), then op.finish. It is the only path to an
// outcome. Under a lease, the outcome is recorded before the lease is
// released, so the next holder sees it in the operation log.
func (b *base) run(ctx context.Context, spec operation, opts runOpts) (Result, error) {
	if ctx == nil {
		return Result{}, errors.New("lifecycle: nil context")
	}
	o, err := b.begin(spec.kind, spec.game, spec.meta)
	if err != nil {
		return Result{}, err
	}
	o.quiet = opts.quiet
	if spec.meta.QuietBusy {
		o.quiet = max(o.quiet, quietBusy)
	}
	ctx, end := b.Telemetry.Span(ctx, "rtmanager."+string(spec.kind))
	var invalid error
	if spec.validate != nil {
		invalid = spec.validate()
	}
	if invalid == nil && opts.lease && spec.prepare != nil {
		invalid = spec.prepare(ctx)
	}
	var res Result
	switch {
	case invalid != nil:
		res = o.finish(ctx, core.Record{}, invalid)
	case opts.lease:
		o.leased = true
		res = b.underLease(ctx, o, func(ctx context.Context) (core.Record, error) {
			return b.inSlot(ctx, o, opts.quiet == quietRepair, spec.body)
		})
	default:
		rec, err := spec.body(ctx, o)
		res = o.finish(ctx, rec, err)
	}
	end(res.Err())
	return res, nil
}

// op is one operation in flight: the audit entry it will write.
type op struct {
	b     *base
	entry core.OperationEntry
	attrs []any
	// seq is the stream job's order; zero for other sources.
	seq   core.JobSeq
	quiet quiet
	// last is the swap the body left to finish (see swapLast); nil when
	// the body wrote its record itself.
	last *lastSwap
	// leased: the operation runs under the lease run took for it (Handle).
	leased bool
	// held is a health event left to be sent with the lease release
	// (see op.publish).
	held *core.HealthEvent
}

// errNothingToDo is returned by background steps that found the record
// already consistent; with quietRepair it leaves no audit entry.
var errNothingToDo = replay("nothing to repair")

func (b *base) begin(kind core.OpKind, game string, m Meta) (*op, error) {
	if !m.Source.Valid() {
		return nil, fmt.Errorf("lifecycle: unknown op source %q", m.Source)
	}
	if m.CorrelationID == "" {
		id, err := b.NewToken()
		if err != nil {
			return nil, fmt.Errorf("lifecycle: correlation id: %w", err)
		}
		m.CorrelationID = id
	}
	return &op{b: b, seq: m.Seq, entry: core.OperationEntry{
		GameID: game, OpKind: kind, OpSource: m.Source, SourceRef: m.SourceRef,
		CorrelationID: m.CorrelationID, StartedAt: b.Now().UTC(),
	}}, nil
}

// meta returns the Meta inner operations run with: same source, same
// correlation id (a composed operation is not a stream job, so no Seq).
func (o *op) meta() Meta {
	return Meta{Source: o.entry.OpSource, SourceRef: o.entry.SourceRef, CorrelationID: o.entry.CorrelationID}
}

// note adds log attributes to the operation's log line.
func (o *op) note(attrs ...any) { o.attrs = append(o.attrs, attrs...) }

// touch records the container and image the operation acted on.
func (o *op) touch(container, image string) {
	if container != "" {
		o.entry.ContainerID = container
	}
	if image != "" {
		o.entry.ImageRef = image
	}
}

// finish records the outcome — audit entry, telemetry, one log line — and
// returns the Result. Appending is best-effort: a failed append is logged
// and never changes the outcome.
func (o *op) finish(ctx context.Context, rec core.Record, err error) Result {
	b, e := o.b, &o.entry
	appended := false
	if err == nil && o.last != nil {
		rec, appended, err = o.commitLast()
	}
	o.settle(rec, err)
	busy := errors.As(err, new(busyError))
	code := e.ErrorCode
	if (busy && o.quiet >= quietBusy) || (o.quiet == quietRepair && errors.Is(err, errNothingToDo)) {
		b.log.DebugContext(ctx, "background repair skipped", "game_id", e.GameID, "op_kind", e.OpKind,
			"reason", core.MessageOf(err))
		return Result{Record: rec, Outcome: e.Outcome, ErrorCode: code, ErrorMessage: e.ErrorMessage,
			CorrelationID: e.CorrelationID, Busy: busy}
	}
	if !appended && e.GameID != "" && core.ValidateGameID(e.GameID) == nil {
		// The entry is written even when the caller's context ended: the
		// operation may have changed things the audit must show.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		_, aerr := b.Operations.AppendOperation(actx, *e)
		cancel()
		if aerr != nil {
			b.log.ErrorContext(ctx, "append operation log", "game_id", e.GameID, "op_kind", e.OpKind,
				"correlation_id", e.CorrelationID, "err", aerr)
		}
	}
	d := e.FinishedAt.Sub(e.StartedAt)
	b.Telemetry.OperationDone(ctx, *e, d)
	level, msg := slog.LevelInfo, "operation succeeded"
	if e.Outcome == core.OutcomeFailure {
		level, msg = slog.LevelWarn, "operation failed"
	}
	if b.log.Enabled(ctx, level) { // the attributes cost allocations even when the line is dropped
		attrs := append([]any{"game_id", e.GameID, "op_kind", e.OpKind, "op_source", e.OpSource,
			"source_ref", e.SourceRef, "correlation_id", e.CorrelationID, "outcome", e.Outcome,
			"error_code", code, "container_id", e.ContainerID, "image_ref", e.ImageRef,
			"duration_ms", d.Milliseconds()}, o.attrs...)
		if e.ErrorMessage != "" {
			attrs = append(attrs, "error_message", e.ErrorMessage)
		}
		b.log.Log(ctx, level, msg, attrs...)
	}
	return Result{Record: rec, Outcome: e.Outcome, ErrorCode: code, ErrorMessage: e.ErrorMessage,
		CorrelationID: e.CorrelationID, Busy: busy}
}

// settle fills the audit entry from the operation's outcome: outcome, code,
// message, finish time, and the container and image the steps did not name
// from the final record.
func (o *op) settle(rec core.Record, err error) {
	e := &o.entry
	code := core.CodeOf(err)
	e.Outcome, e.ErrorCode, e.ErrorMessage = core.OutcomeOf(code), code, ""
	if e.Outcome == core.OutcomeFailure {
		e.ErrorMessage = core.MessageOf(err)
	}
	// Fill what the steps did not name from the final record; a patch that
	// rolled back keeps naming the image it was asked for.
	if e.ContainerID == "" {
		e.ContainerID = rec.ContainerID
	}
	if e.ImageRef == "" {
		e.ImageRef = rec.ImageRef
	}
	e.FinishedAt = o.b.Now().UTC()
}
