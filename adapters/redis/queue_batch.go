package redis

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/ports"
)

// resultPairs is the number of field/value strings of one results entry
// (resultFields).
const resultPairs = 20

// completeManyScript is completeScript for every job of a batch, in order,
// in one atomic step. KEYS: results stream, then the job stream of each
// job. ARGV: group, maxlen ("0" = no trimming), then for each job its id
// followed by the resultPairs strings of its result. It returns how many
// results it wrote.
var completeManyScript = rueidis.NewLuaScript(`
local stride = 21
local written = 0
for i = 2, #KEYS do
  local b = 3 + (i - 2) * stride
  local id = ARGV[b]
  if redis.call('XACK', KEYS[i], ARGV[1], id) == 1 then
    local fields = {}
    for j = 1, stride - 1 do fields[j] = ARGV[b + j] end
    if ARGV[2] == '0' then
      redis.call('XADD', KEYS[1], '*', unpack(fields))
    else
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
    end
    redis.call('XDEL', KEYS[i], id)
    written = written + 1
  end
end
return written`)

var _ ports.BatchCompleter = (*Queue)(nil)

// CompleteMany implements ports.BatchCompleter: Complete's script for
// every completion, in order, as one script. A job already completed (also
// one listed twice in cs) writes nothing. Errors: ErrInvalid (nothing is
// written), ErrUnavailable.
func (q *Queue) CompleteMany(ctx context.Context, cs []ports.Completion) error {
	if len(cs) == 0 {
		return nil
	}
	keys := make([]string, 0, 1+len(cs))
	keys = append(keys, q.c.streams.JobResults)
	args := make([]string, 0, 2+len(cs)*(1+resultPairs))
	args = append(args, q.c.streams.Group, q.c.maxLenArg())
	for _, c := range cs {
		fields, err := q.resultFields(c.Job, c.Result)
		if err != nil {
			return err
		}
		if len(fields) != resultPairs {
			return fmt.Errorf("redis: complete: %d result fields, want %d: %w", len(fields), resultPairs, ports.ErrInvalid)
		}
		keys = append(keys, c.Job.Stream)
		args = append(args, c.Job.ID)
		args = append(args, fields...)
	}
	if err := completeManyScript.Exec(ctx, q.c.rc, keys, args).Error(); err != nil {
		return fmt.Errorf("redis: complete %d jobs: %w", len(cs), unavailable(err))
	}
	return nil
}
