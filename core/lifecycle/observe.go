package lifecycle

import (
	"context"
	"io"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// LogRequest asks for the output of a game's current container.
type LogRequest struct {
	Game    string
	Options ports.LogOptions
	// Out receives the output.
	Out io.Writer
	// Ready, when set, is called once the game and its container are
	// known and just before the driver is asked, so a streaming caller can
	// commit its answer; errors returned after it describe a stream that
	// has begun.
	Ready func()
}

// StatsSample is one resource sample of a game's current container.
type StatsSample struct {
	Game        string
	ContainerID string
	ports.Stats
}

// Logs writes the output of the game's current container (running or
// exited) to req.Out. Errors are coded: invalid_request (bad game id or
// options), not_found (no record, or no container), unsupported (the
// driver does not declare Capabilities.Logs, or refuses an option),
// service_unavailable; a follow that ends because ctx ended returns nil.
func (s *Services) Logs(ctx context.Context, req LogRequest) error {
	if err := req.Options.Validate(); err != nil {
		return core.Errorf(core.CodeInvalidRequest, "%v", err)
	}
	id, err := s.containerOf(ctx, req.Game)
	if err != nil {
		return err
	}
	// Ask before the answer is committed: a driver without logs must be
	// unsupported, not an empty stream.
	caps, err := s.b.Driver.Capabilities(ctx)
	if err != nil {
		return driverErr("capabilities", err, core.CodeServiceUnavailable)
	}
	if !caps.Logs {
		return core.Errorf(core.CodeUnsupported, "the %s driver does not offer logs", caps.Name)
	}
	if (req.Options.Timestamps || !req.Options.Since.IsZero()) && !caps.LogTimes {
		return core.Errorf(core.CodeUnsupported, "the %s driver's logs keep no times: since and timestamps are not offered", caps.Name)
	}
	if req.Ready != nil {
		req.Ready()
	}
	err = ports.ReadLogs(ctx, s.b.Driver, id, req.Options, req.Out)
	if err != nil && ctx.Err() == nil {
		return driverErr("logs", err, core.CodeInternal)
	}
	return nil
}

// Stats samples the resource use of the game's running container. Errors
// are coded: invalid_request, not_found (no record, no container, or it
// does not run), unsupported, service_unavailable.
func (s *Services) Stats(ctx context.Context, game string) (StatsSample, error) {
	id, err := s.containerOf(ctx, game)
	if err != nil {
		return StatsSample{}, err
	}
	st, err := ports.ReadStats(ctx, s.b.Driver, id)
	if err != nil {
		return StatsSample{}, driverErr("stats", err, core.CodeInternal)
	}
	if st.At.IsZero() {
		st.At = s.b.Now()
	}
	return StatsSample{Game: game, ContainerID: id, Stats: st}, nil
}

// containerOf returns the id of the game's current container.
func (s *Services) containerOf(ctx context.Context, game string) (string, error) {
	if err := core.ValidateGameID(game); err != nil {
		return "", err
	}
	rec, found, err := s.b.load(ctx, game)
	switch {
	case err != nil:
		return "", err
	case !found:
		return "", core.Errorf(core.CodeNotFound, "game %q has no runtime", game)
	case rec.ContainerID == "":
		return "", core.Errorf(core.CodeNotFound, "game %q has no container (status %s)", game, rec.Status)
	}
	return rec.ContainerID, nil
}
