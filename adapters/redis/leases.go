package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/ports"
)

// leaseKeyPrefix is the key of a game's lease without the game id.
const leaseKeyPrefix = "rtmanager:lease:"

// renewScript extends the lease only while ARGV[1] still holds it.
var renewScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes the lease only while ARGV[1] still holds it.
var releaseScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Leases implements ports.LeaseStore with one string key per game,
// "<KeyPrefix>rtmanager:lease:<game_id>", holding the holder's token: taken
// with SET NX PX, renewed by a compare-and-pexpire script and released by a
// compare-and-delete script, so only the token's holder can extend or drop
// it.
type Leases struct {
	c *Client
}

var _ ports.LeaseStore = (*Leases)(nil)

// Leases returns the lease store of c.
func (c *Client) Leases() *Leases { return &Leases{c: c} }

// Key returns the Redis key of gameID's lease.
func (l *Leases) Key(gameID string) string { return l.c.prefix + leaseKeyPrefix + gameID }

// TryAcquire implements ports.LeaseStore. A ttl under one millisecond is
// ErrInvalid; sub-millisecond parts are rounded up.
func (l *Leases) TryAcquire(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error) {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return false, err
	}
	cmd := l.c.rc.B().Set().Key(l.Key(gameID)).Value(token).Nx().PxMilliseconds(ms).Build()
	err = l.c.rc.Do(ctx, cmd).Error()
	switch {
	case err == nil:
		return true, nil
	case rueidis.IsRedisNil(err):
		return false, nil
	default:
		return false, fmt.Errorf("redis: acquire lease %s: %w", gameID, unavailable(err))
	}
}

// Renew implements ports.LeaseStore.
func (l *Leases) Renew(ctx context.Context, gameID, token string, ttl time.Duration) (bool, error) {
	ms, err := ttlMillis(ttl)
	if err != nil {
		return false, err
	}
	n, err := renewScript.Exec(ctx, l.c.rc, []string{l.Key(gameID)},
		[]string{token, strconv.FormatInt(ms, 10)}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("redis: renew lease %s: %w", gameID, unavailable(err))
	}
	return n == 1, nil
}

// Release implements ports.LeaseStore.
func (l *Leases) Release(ctx context.Context, gameID, token string) error {
	err := releaseScript.Exec(ctx, l.c.rc, []string{l.Key(gameID)}, []string{token}).Error()
	if err != nil {
		return fmt.Errorf("redis: release lease %s: %w", gameID, unavailable(err))
	}
	return nil
}

// ttlMillis converts ttl to whole milliseconds, rounding up.
func ttlMillis(ttl time.Duration) (int64, error) {
	if ttl < time.Millisecond {
		return 0, fmt.Errorf("redis: lease ttl %v is under 1ms: %w", ttl, ports.ErrInvalid)
	}
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms, nil
}
