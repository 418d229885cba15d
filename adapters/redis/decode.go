package redis

import (
	"github.com/redis/rueidis"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// decodeRead turns an XREADGROUP reply into jobs, job streams in the order
// of streams. It accepts both the RESP3 map and the RESP2 array shape.
func decodeRead(msg rueidis.RedisMessage, streams []string) ([]ports.Job, error) {
	byStream := make(map[string][]rueidis.RedisMessage, len(streams))
	if msg.IsMap() {
		m, err := msg.ToMap()
		if err != nil {
			return nil, err
		}
		for name, v := range m {
			entries, err := v.ToArray()
			if err != nil && !rueidis.IsRedisNil(err) {
				return nil, err
			}
			byStream[name] = entries
		}
	} else {
		pairs, err := msg.ToArray()
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			kv, err := p.ToArray()
			if err != nil || len(kv) != 2 {
				continue
			}
			name, err := kv[0].ToString()
			if err != nil {
				continue
			}
			entries, err := kv[1].ToArray()
			if err != nil && !rueidis.IsRedisNil(err) {
				return nil, err
			}
			byStream[name] = entries
		}
	}
	var jobs []ports.Job
	for _, s := range streams {
		jobs = append(jobs, decodeEntries(s, byStream[s], 1)...)
	}
	return jobs, nil
}

// decodeEntries decodes stream entries ([id, [field, value, ...]]) read
// from stream. Entries without an id are skipped (Redis 6.2 returns nil
// for entries deleted while pending). An entry whose field list is missing
// or malformed becomes a job with empty Fields, and an unpaired trailing
// field is dropped, so the ingress can still answer it with invalid_request.
func decodeEntries(stream string, entries []rueidis.RedisMessage, deliveries int64) []ports.Job {
	jobs := make([]ports.Job, 0, len(entries))
	for _, e := range entries {
		parts, err := e.ToArray()
		if err != nil || len(parts) == 0 {
			continue
		}
		id, err := parts[0].ToString()
		if err != nil || id == "" {
			continue
		}
		// Redis entry ids always parse; a zero Seq would only mean "unordered".
		seq, _ := core.ParseJobSeq(id)
		job := ports.Job{Stream: stream, ID: id, Seq: seq, Fields: map[string]string{}, Deliveries: deliveries}
		if len(parts) > 1 {
			if kv, err := parts[1].ToArray(); err == nil {
				for i := 0; i+1 < len(kv); i += 2 {
					k, kerr := kv[i].ToString()
					v, verr := kv[i+1].ToString()
					if kerr == nil && verr == nil {
						job.Fields[k] = v
					}
				}
			} else if fm, err := parts[1].ToMap(); err == nil {
				for k, v := range fm {
					if s, err := v.ToString(); err == nil {
						job.Fields[k] = s
					}
				}
			}
		}
		jobs = append(jobs, job)
	}
	return jobs
}
