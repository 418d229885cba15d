package sqlstore

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/core"
)

// TestRecordJSONMatchesEncodingJSON: the cached and short-cut encodings of
// the record's JSON columns give what encoding/json gives, for cached and
// uncached values, non-canonical text and past the cache's bound.
func TestRecordJSONMatchesEncodingJSON(t *testing.T) {
	policies := []core.RestartPolicy{{}, {Mode: core.RestartNever, MaxRestarts: 5, Window: 10 * time.Minute}}
	for i := range policyCacheMax + 10 {
		policies = append(policies, core.RestartPolicy{Mode: core.RestartOnFailure, MaxRestarts: i, Window: time.Duration(i+1) * time.Second})
	}
	for round := range 2 { // the second round reads what the first cached
		for _, p := range policies {
			want, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodePolicy(p)
			if err != nil || got != string(want) {
				t.Fatalf("round %d: encodePolicy(%+v) = %q, %v; want %q", round, p, got, err, want)
			}
			back, err := decodePolicy(got)
			if err != nil || back != p {
				t.Fatalf("round %d: decodePolicy(%q) = %+v, %v; want %+v", round, got, back, err, p)
			}
		}
	}
	if n := len(policyCache.decode); n > policyCacheMax {
		t.Errorf("policy cache holds %d entries, want at most %d", n, policyCacheMax)
	}
	// Text that is not what encodePolicy writes decodes as json.Unmarshal
	// does and is not cached.
	odd := `{ "mode":"always","max_restarts":3,"window":"1m0s"}`
	var want core.RestartPolicy
	if err := json.Unmarshal([]byte(odd), &want); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, err := decodePolicy(odd); err != nil || got != want {
			t.Fatalf("decodePolicy(%q) = %+v, %v; want %+v", odd, got, err, want)
		}
	}
	if _, ok := policyCache.decode[odd]; ok {
		t.Error("non-canonical policy text was cached")
	}
	if _, err := decodePolicy(`{"window":"soon"}`); err == nil {
		t.Error("decodePolicy accepted a bad window")
	}

	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i, c := range []core.CrashState{{}, {History: []time.Time{}}, {Streak: 2, History: []time.Time{at},
		LastExitCode: 137, LastExitClass: core.ExitOOM, BackoffMS: 20000}} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeCrash(c)
		if err != nil || got != string(want) {
			t.Fatalf("encodeCrash(#%d) = %q, %v; want %q", i, got, err, want)
		}
		var wantBack core.CrashState
		if err := json.Unmarshal(want, &wantBack); err != nil {
			t.Fatal(err)
		}
		back, err := decodeCrash(got)
		if err != nil || !cmp.Equal(back, wantBack) {
			t.Fatalf("decodeCrash(%q) = %+v, %v; want %+v", got, back, err, wantBack)
		}
	}
	var env map[string]string
	if err := decodeJSON(emptyObject, &env); err != nil || env != nil {
		t.Errorf("decodeJSON({}) = %v, %v; want nil", env, err)
	}
	if err := decodeJSON(`{"A":"1"}`, &env); err != nil || fmt.Sprint(env) != "map[A:1]" {
		t.Errorf("decodeJSON = %v, %v", env, err)
	}
}
