package process

import (
	"context"
	"path/filepath"

	"github.com/galaxy-game/rtmanager/internal/logrotate"
)

// rotateLogs bounds the engine log files (SPEC §11: 10 MB × 3) until the
// driver is closed. Engines write their logs themselves (O_APPEND), so
// rotation is copy-and-truncate and keeps working for engines this driver
// adopted or that outlive it; several drivers sharing the state dir take
// turns through the file lock.
func (d *Driver) rotateLogs() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-d.closed
		cancel()
	}()
	logrotate.Run(ctx, filepath.Join(d.cfg.StateDir, "*.log"), func(err error) {
		d.log.Warn("rotate engine logs", "error", err)
	})
}
