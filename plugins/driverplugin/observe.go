package driverplugin

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/protobuf/types/known/timestamppb"

	driverv2 "github.com/galaxy-game/rtmanager/plugins/proto/driver/v2"
	"github.com/galaxy-game/rtmanager/ports"
)

// logChunk bounds one LogsChunk: a follower holds at most this much.
const logChunk = 32 << 10

// ObserveServer serves protocol version 2's Observe service for a driver:
// the calls of its LogSource and StatsSource, ErrUnsupported (UNIMPLEMENTED)
// for what it lacks.
type ObserveServer struct {
	driverv2.UnimplementedObserveServer
	impl ports.RuntimeDriver
}

var _ driverv2.ObserveServer = (*ObserveServer)(nil)

// NewObserveServer returns an ObserveServer for impl.
func NewObserveServer(impl ports.RuntimeDriver) *ObserveServer { return &ObserveServer{impl: impl} }

// ObserveCapabilities implements the ObserveCapabilities RPC.
func (s *ObserveServer) ObserveCapabilities(ctx context.Context, _ *driverv2.ObserveCapabilitiesRequest) (*driverv2.ObserveCapabilitiesResponse, error) {
	c, err := s.impl.Capabilities(ctx)
	if err != nil {
		return nil, ToStatus(err)
	}
	return &driverv2.ObserveCapabilitiesResponse{Logs: c.Logs, LogTimes: c.LogTimes, Stats: c.Stats}, nil
}

// streamWriter sends each write as LogsChunks.
type streamWriter struct {
	stream driverv2.Observe_LogsServer
}

func (w streamWriter) Write(p []byte) (int, error) {
	for n := 0; n < len(p); {
		end := min(len(p), n+logChunk)
		if err := w.stream.Send(&driverv2.LogsChunk{Data: p[n:end]}); err != nil {
			return n, err
		}
		n = end
	}
	return len(p), nil
}

// Logs implements the Logs RPC.
func (s *ObserveServer) Logs(req *driverv2.LogsRequest, stream driverv2.Observe_LogsServer) error {
	opts := ports.LogOptions{Tail: int(req.GetTail()), Follow: req.GetFollow(), Timestamps: req.GetTimestamps()}
	if req.GetSince() != nil {
		opts.Since = req.GetSince().AsTime()
	}
	return ToStatus(ports.ReadLogs(stream.Context(), s.impl, req.GetId(), opts, streamWriter{stream}))
}

// Stats implements the Stats RPC.
func (s *ObserveServer) Stats(ctx context.Context, req *driverv2.StatsRequest) (*driverv2.StatsResponse, error) {
	st, err := ports.ReadStats(ctx, s.impl, req.GetId())
	if err != nil {
		return nil, ToStatus(err)
	}
	return &driverv2.StatsResponse{At: timestamppb.New(st.At), CpuPercent: st.CPUPercent, MemoryBytes: st.MemoryBytes,
		MemoryLimitBytes: st.MemoryLimitBytes, Pids: st.Pids, NetRxBytes: st.NetRxBytes, NetTxBytes: st.NetTxBytes}, nil
}

var (
	_ ports.LogSource   = (*Client)(nil)
	_ ports.StatsSource = (*Client)(nil)
)

// errV1 is the answer of a protocol version 1 plugin to logs and stats.
var errV1 = fmt.Errorf("%w: the plugin speaks driver protocol version 1 (no logs or stats)", ports.ErrUnsupported)

// Logs implements ports.LogSource over the Observe service.
func (c *Client) Logs(ctx context.Context, id string, opts ports.LogOptions, w io.Writer) error {
	if c.observe == nil {
		return errV1
	}
	req := &driverv2.LogsRequest{Id: id, Tail: int32(opts.Tail), Follow: opts.Follow, Timestamps: opts.Timestamps}
	if !opts.Since.IsZero() {
		req.Since = timestamppb.New(opts.Since)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.observe.Logs(ctx, req)
	if err != nil {
		return callErr(ctx, err)
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return callErr(ctx, err)
		}
		if _, err := w.Write(chunk.GetData()); err != nil {
			return err
		}
	}
}

// Stats implements ports.StatsSource over the Observe service.
func (c *Client) Stats(ctx context.Context, id string) (ports.Stats, error) {
	if c.observe == nil {
		return ports.Stats{}, errV1
	}
	resp, err := c.observe.Stats(ctx, &driverv2.StatsRequest{Id: id})
	if err != nil {
		return ports.Stats{}, callErr(ctx, err)
	}
	st := ports.Stats{CPUPercent: resp.CpuPercent, MemoryBytes: resp.MemoryBytes, MemoryLimitBytes: resp.MemoryLimitBytes,
		Pids: resp.Pids, NetRxBytes: resp.NetRxBytes, NetTxBytes: resp.NetTxBytes}
	if resp.GetAt() != nil {
		st.At = resp.GetAt().AsTime()
	}
	return st, nil
}

// observeResult is the answer of an ObserveCapabilities call.
type observeResult struct {
	resp *driverv2.ObserveCapabilitiesResponse
	err  error
}

// observeCall asks the plugin for its optional capabilities.
func (c *Client) observeCall(ctx context.Context) observeResult {
	resp, err := c.observe.ObserveCapabilities(ctx, &driverv2.ObserveCapabilitiesRequest{})
	return observeResult{resp, err}
}

// observeCaps adds the optional capabilities to caps: none for a version
// 1 plugin, else what ObserveCapabilities answers (observed, when the call
// is already in flight; nil to make it now).
func (c *Client) observeCaps(ctx context.Context, caps ports.Capabilities, observed <-chan observeResult) (ports.Capabilities, error) {
	caps.Logs, caps.LogTimes, caps.Stats = false, false, false
	if c.observe == nil {
		return caps, nil
	}
	var r observeResult
	if observed != nil {
		r = <-observed
	} else {
		r = c.observeCall(ctx)
	}
	if r.err != nil {
		return ports.Capabilities{}, callErr(ctx, r.err)
	}
	caps.Logs, caps.LogTimes, caps.Stats = r.resp.GetLogs(), r.resp.GetLogTimes(), r.resp.GetStats()
	return caps, nil
}
