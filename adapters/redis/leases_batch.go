package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/ports"
)

// acquireManyScript is SET NX PX for every key, in order. KEYS: the
// leases' keys. ARGV: token, ttl in ms for each key, in turn. It returns
// one 1 (taken) or 0 (held by someone) per key.
var acquireManyScript = rueidis.NewLuaScript(`
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[2*i-1], 'NX', 'PX', ARGV[2*i]) then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`)

// releaseManyScript is releaseScript for every key. KEYS: the leases'
// keys. ARGV: the token of each key.
var releaseManyScript = rueidis.NewLuaScript(`
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then
    redis.call('DEL', KEYS[i])
  end
end
return 0`)

var _ ports.LeaseBatcher = (*Leases)(nil)

// TryAcquireMany implements ports.LeaseBatcher in one script. A ttl under
// one millisecond is ErrInvalid and nothing is taken.
func (l *Leases) TryAcquireMany(ctx context.Context, claims []ports.LeaseClaim) ([]bool, error) {
	if len(claims) == 0 {
		return []bool{}, nil
	}
	keys := make([]string, len(claims))
	args := make([]string, 0, 2*len(claims))
	for i, c := range claims {
		ms, err := ttlMillis(c.TTL)
		if err != nil {
			return nil, err
		}
		keys[i] = l.Key(c.GameID)
		args = append(args, c.Token, strconv.FormatInt(ms, 10))
	}
	got, err := acquireManyScript.Exec(ctx, l.c.rc, keys, args).AsIntSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: acquire %d leases: %w", len(claims), unavailable(err))
	}
	if len(got) != len(claims) {
		return nil, fmt.Errorf("redis: acquire %d leases: %d answers: %w", len(claims), len(got), ports.ErrUnavailable)
	}
	out := make([]bool, len(got))
	for i, n := range got {
		out[i] = n == 1
	}
	return out, nil
}

// ReleaseMany implements ports.LeaseBatcher in one script.
func (l *Leases) ReleaseMany(ctx context.Context, claims []ports.LeaseClaim) error {
	if len(claims) == 0 {
		return nil
	}
	keys := make([]string, len(claims))
	tokens := make([]string, len(claims))
	for i, c := range claims {
		keys[i], tokens[i] = l.Key(c.GameID), c.Token
	}
	if err := releaseManyScript.Exec(ctx, l.c.rc, keys, tokens).Error(); err != nil {
		return fmt.Errorf("redis: release %d leases: %w", len(claims), unavailable(err))
	}
	return nil
}
