package sqlstore

import (
	"encoding/json"
	"reflect"
	"sync"

	"github.com/galaxy-game/rtmanager/core"
)

// The JSON columns of a record (restart_policy, restart_state, env) are
// encoded on every record write and decoded on every read, and on the
// lifecycle hot path they nearly always hold the same few values: one of a
// handful of policies, no crash state, no env. recordJSON keeps the
// policies it has seen (up to policyCacheMax of them; policies hold no
// references, so a cached one cannot be aliased) and short-cuts the empty
// crash state, so those cost a map lookup instead of a reflection-driven
// encode or decode (docs/BENCHMARKS.md, P2).

// policyCacheMax bounds the policies kept: starts name their own policies,
// and a client naming a new one each time must not grow the cache.
const policyCacheMax = 64

// emptyObject is the JSON of an empty map and of the zero crash state.
const emptyObject = "{}"

var policyCache struct {
	mu     sync.RWMutex
	encode map[core.RestartPolicy]string
	decode map[string]core.RestartPolicy
}

// encodePolicy returns json.Marshal(p) as a string.
func encodePolicy(p core.RestartPolicy) (string, error) {
	policyCache.mu.RLock()
	s, ok := policyCache.encode[p]
	policyCache.mu.RUnlock()
	if ok {
		return s, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	cachePolicy(string(b), p)
	return string(b), nil
}

// decodePolicy returns the policy json.Unmarshal makes of s.
func decodePolicy(s string) (core.RestartPolicy, error) {
	policyCache.mu.RLock()
	p, ok := policyCache.decode[s]
	policyCache.mu.RUnlock()
	if ok {
		return p, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return core.RestartPolicy{}, err
	}
	// Only the canonical text (what encodePolicy writes) is cached, so a
	// cached entry decodes exactly as json.Unmarshal would.
	if canon, err := json.Marshal(p); err == nil && string(canon) == s {
		cachePolicy(s, p)
	}
	return p, nil
}

func cachePolicy(s string, p core.RestartPolicy) {
	policyCache.mu.Lock()
	defer policyCache.mu.Unlock()
	if policyCache.encode == nil {
		policyCache.encode = map[core.RestartPolicy]string{}
		policyCache.decode = map[string]core.RestartPolicy{}
	}
	if len(policyCache.encode) < policyCacheMax {
		policyCache.encode[p] = s
		policyCache.decode[s] = p
	}
}

// encodeCrash returns json.Marshal(c) as a string; every field of
// core.CrashState is omitempty, so the zero state is "{}".
func encodeCrash(c core.CrashState) (string, error) {
	if reflect.ValueOf(c).IsZero() {
		return emptyObject, nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// decodeCrash returns the state json.Unmarshal makes of s.
func decodeCrash(s string) (core.CrashState, error) {
	var c core.CrashState
	if s == emptyObject {
		return c, nil
	}
	err := json.Unmarshal([]byte(s), &c)
	return c, err
}
