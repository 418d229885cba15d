// Command hostileplugin is a test plugin that completes the go-plugin
// handshake at driver protocol version 3, serves the gRPC services of the
// process driver, and then misbehaves on the frame channel as
// HOSTILE_MODE says:
//
//	oversized  answers every request with a length prefix of ~4 GiB
//	garbage    answers every request with a reply that does not decode
//	badkind    answers with a frame of an unknown kind
//	silent     never answers; logs each request's timeout and each cancel
//	           frame to HOSTILE_LOG ("request <id> <timeout ns>",
//	           "cancel <id>")
//
// It writes its frames by hand, independent of driverplugin's code.
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/galaxy-game/rtmanager/plugins/driverplugin"
	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
	"github.com/galaxy-game/rtmanager/ports"
)

// hostile serves the driver over gRPC like a version 3 plugin and runs its
// own frame loop.
type hostile struct {
	plugin.NetRPCUnsupportedPlugin
	impl ports.RuntimeDriver
}

func (p *hostile) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	if err := (&driverplugin.DriverPlugin{Impl: p.impl, V2: true}).GRPCServer(b, s); err != nil {
		return err
	}
	fd, err := strconv.Atoi(os.Getenv(driverplugin.EnvFramesFD))
	if err != nil {
		return err
	}
	conn, err := net.FileConn(os.NewFile(uintptr(fd), "frames"))
	if err != nil {
		return err
	}
	go misbehave(conn, os.Getenv("HOSTILE_MODE"), os.Getenv("HOSTILE_LOG"))
	return nil
}

func (p *hostile) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("hostileplugin is a server")
}

func misbehave(conn net.Conn, mode, logPath string) {
	var logf io.Writer = io.Discard
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			logf = f
		}
	}
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(conn, body); err != nil {
			return
		}
		kind, id := body[0], binary.BigEndian.Uint64(body[1:9])
		if kind == 4 {
			fmt.Fprintf(logf, "cancel %d\n", id)
			continue
		}
		fmt.Fprintf(logf, "request %d %d\n", id, int64(binary.BigEndian.Uint64(body[9:17])))
		switch mode {
		case "oversized":
			_, _ = conn.Write([]byte{0xff, 0xff, 0xff, 0xf0, 2})
		case "garbage":
			frame := binary.BigEndian.AppendUint32(nil, 1+8+4)
			frame = append(frame, 2)
			frame = binary.BigEndian.AppendUint64(frame, id)
			_, _ = conn.Write(append(frame, 0xff, 0xff, 0xff, 0xff))
		case "badkind":
			frame := binary.BigEndian.AppendUint32(nil, 1+8)
			frame = append(frame, 9)
			_, _ = conn.Write(binary.BigEndian.AppendUint64(frame, id))
		}
	}
}

func main() {
	log := sdk.Logger()
	d, err := process.New(process.Config{StateDir: sdk.StateDir("hostile"), Logger: log})
	if err != nil {
		log.Error("process driver", "error", err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  driverplugin.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{driverplugin.ProtocolVersion: {driverplugin.PluginName: &hostile{impl: d}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
