package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// publishReleaseScript appends a health event (XADD KEYS[2] with ARGV[2…])
// and then deletes the lease KEYS[1] only while ARGV[1] still holds it, as
// releaseScript does. The append runs under pcall, so a failed append
// still releases the lease; the script returns {deleted, append error or
// ""}.
var publishReleaseScript = rueidis.NewLuaScript(`
local added = redis.pcall('XADD', KEYS[2], unpack(ARGV, 2))
local deleted = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  deleted = redis.call('DEL', KEYS[1])
end
if type(added) == 'table' and added.err then
  return {deleted, added.err}
end
return {deleted, ''}`)

var _ ports.PublishReleaser = (*HealthStream)(nil)

// PublishRelease implements ports.PublishReleaser with one script: it
// handles leases that are this client's own lease store.
func (h *HealthStream) PublishRelease(ctx context.Context, ev core.HealthEvent, leases ports.LeaseStore,
	gameID, token string) (handled bool, pubErr, relErr error) {
	l, ok := leases.(*Leases)
	if !ok || l.c != h.c {
		return false, nil, nil
	}
	args, err := h.xaddArgs(ev)
	if err != nil {
		return true, err, l.Release(ctx, gameID, token)
	}
	res, err := publishReleaseScript.Exec(ctx, h.c.rc, []string{l.Key(gameID), h.c.streams.HealthEvents},
		append([]string{token}, args...)).ToArray()
	if err != nil {
		err = unavailable(err)
		return true, fmt.Errorf("redis: publish %s for %s: %w", ev.Type, ev.GameID, err),
			fmt.Errorf("redis: release lease %s: %w", gameID, err)
	}
	if len(res) == 2 {
		if msg, _ := res[1].ToString(); msg != "" {
			pubErr = fmt.Errorf("redis: publish %s for %s: %w", ev.Type, ev.GameID, unavailable(errors.New(msg)))
		}
	}
	return true, pubErr, nil
}
