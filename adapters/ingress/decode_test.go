package ingress_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/adapters/ingress"
	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

func TestDecodeStart(t *testing.T) {
	tests := []struct {
		name    string
		fields  map[string]string
		want    lifecycle.StartInput
		wantErr string
	}{
		{name: "minimal", fields: map[string]string{"game_id": "g1", "image_ref": "engine:1"},
			want: lifecycle.StartInput{GameID: "g1", ImageRef: "engine:1"}},
		{name: "env", fields: map[string]string{"game_id": "g1", "image_ref": "engine:1", "env": `{"A":"1","B_2":""}`},
			want: lifecycle.StartInput{GameID: "g1", ImageRef: "engine:1", Env: map[string]string{"A": "1", "B_2": ""}}},
		{name: "empty env is no env", fields: map[string]string{"game_id": "g1", "image_ref": "engine:1", "env": ""},
			want: lifecycle.StartInput{GameID: "g1", ImageRef: "engine:1"}},
		{name: "empty object", fields: map[string]string{"game_id": "g1", "image_ref": "engine:1", "env": " {} "},
			want: lifecycle.StartInput{GameID: "g1", ImageRef: "engine:1", Env: map[string]string{}}},
		{name: "null env", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": "null"}, wantErr: "not null"},
		{name: "duplicate name", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": `{"A":"1","A":"2"}`}, wantErr: "given twice"},
		{name: "trailing data", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": `{"A":"1"} {}`}, wantErr: "trailing data"},
		{name: "truncated", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": `{"A":"1"`}, wantErr: "not JSON"},
		{name: "bool value", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": `{"A":true}`}, wantErr: "not a boolean"},
		{name: "null value", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": `{"A":null}`}, wantErr: "not null"},
		{name: "too many vars", fields: map[string]string{"game_id": "g1", "image_ref": "e", "env": manyVars(core.MaxEnvVars + 1)}, wantErr: "more than 64"},
		{name: "game_id too long", fields: map[string]string{"game_id": strings.Repeat("a", 65), "image_ref": "e"}, wantErr: "at most 64"},
		{name: "field oversized", fields: map[string]string{"game_id": strings.Repeat("a", 5000), "image_ref": "e"}, wantErr: "field game_id is 5000 bytes"},
		{name: "image with space", fields: map[string]string{"game_id": "g1", "image_ref": "a b"}, wantErr: "white space"},
		{name: "unknown fields sorted", fields: map[string]string{"game_id": "g1", "image_ref": "e", "z": "", "b": ""}, wantErr: `unknown field(s) "b", "z"`},
		{name: "empty entry", fields: map[string]string{}, wantErr: "missing field game_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ingress.DecodeStart(tt.fields)
			checkDecode(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); tt.wantErr == "" && diff != "" {
				t.Errorf("DecodeStart (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeStop(t *testing.T) {
	tests := []struct {
		name    string
		fields  map[string]string
		want    lifecycle.StopInput
		wantErr string
	}{
		{name: "ok", fields: map[string]string{"game_id": "g-1", "reason": "idle_timeout"},
			want: lifecycle.StopInput{GameID: "g-1", Reason: core.ReasonIdleTimeout}},
		{name: "empty reason", fields: map[string]string{"game_id": "g1", "reason": ""}, wantErr: "reason must not be empty"},
		{name: "unknown reason", fields: map[string]string{"game_id": "g1", "reason": "Shutdown"}, wantErr: "unknown stop reason"},
		{name: "env on stop", fields: map[string]string{"game_id": "g1", "reason": "shutdown", "env": "{}"}, wantErr: `unknown field(s) "env"`},
		{name: "missing game_id", fields: map[string]string{"reason": "shutdown"}, wantErr: "missing field game_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ingress.DecodeStop(tt.fields)
			checkDecode(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); tt.wantErr == "" && diff != "" {
				t.Errorf("DecodeStop (-want +got):\n%s", diff)
			}
		})
	}
}

func checkDecode(t *testing.T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if core.CodeOf(err) != core.CodeInvalidRequest || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("err = %v, want invalid_request containing %q", err, wantErr)
	}
}

func manyVars(n int) string {
	m := map[string]string{}
	for i := range n {
		m["V"+strings.Repeat("X", i%5)+string(rune('A'+i%26))+string(rune('A'+i/26))] = "x"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// FuzzDecode feeds arbitrary entries to both decoders. Every entry must
// decode or fail with invalid_request, never panic; what decodes must pass
// core validation, and a decoded env must equal encoding/json's reading
// of the same text.
func FuzzDecode(f *testing.F) {
	f.Add(true, "g1", "engine:1", `{"A":"1"}`, "", "")
	f.Add(true, "g1", "engine:1", `{"A":"1","A":"2"}`, "", "")
	f.Add(true, "g1", "engine:1", `{"A":1}`, "", "")
	f.Add(true, "g1", "engine:1", "", "", "extra")
	f.Add(false, "g1", "", "", "game_finished", "")
	f.Add(false, "G1", "", "", "bored", "")
	f.Fuzz(func(t *testing.T, start bool, game, image, env, reason, extra string) {
		fields := map[string]string{"game_id": game}
		if extra != "" {
			fields[extra] = "x"
		}
		if start {
			fields["image_ref"] = image
			if env != "" {
				fields["env"] = env
			}
			in, err := ingress.DecodeStart(fields)
			if err != nil {
				if c := core.CodeOf(err); c != core.CodeInvalidRequest {
					t.Fatalf("DecodeStart error code %q: %v", c, err)
				}
				return
			}
			if core.ValidateGameID(in.GameID) != nil || core.ValidateImageRef(in.ImageRef) != nil {
				t.Fatalf("DecodeStart accepted invalid input %+v", in)
			}
			if fields["env"] != "" {
				var want map[string]string
				if err := json.Unmarshal([]byte(fields["env"]), &want); err != nil {
					t.Fatalf("DecodeStart accepted env %q that encoding/json rejects: %v", fields["env"], err)
				}
				if diff := cmp.Diff(want, in.Env); diff != "" {
					t.Fatalf("env %q (-json +decoded):\n%s", fields["env"], diff)
				}
			}
			return
		}
		fields["reason"] = reason
		in, err := ingress.DecodeStop(fields)
		if err != nil {
			if c := core.CodeOf(err); c != core.CodeInvalidRequest {
				t.Fatalf("DecodeStop error code %q: %v", c, err)
			}
			return
		}
		if core.ValidateGameID(in.GameID) != nil || string(in.Reason) != reason {
			t.Fatalf("DecodeStop accepted invalid input %+v", in)
		}
	})
}
