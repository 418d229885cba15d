package testengine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/galaxy-game/rtmanager/internal/testengine"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    testengine.Config
		wantErr string
	}{
		{"Defaults", nil, testengine.Config{Port: "8080"}, ""},
		{"All", map[string]string{"PORT": "9000", "GAME_ID": "g", "ENGINE_IGNORE_SIGTERM": "1",
			"ENGINE_EXIT_AFTER": "1s", "ENGINE_EXIT_CODE": "3", "ENGINE_OOM": "1", "ENGINE_OOM_AFTER": "2s",
			"ENGINE_UNHEALTHY_AFTER": "3s", "ENGINE_START_DELAY": "4s"},
			testengine.Config{Port: "9000", GameID: "g", IgnoreSIGTERM: true, ExitAfter: time.Second, ExitCode: 3,
				OOM: true, OOMAfter: 2 * time.Second, UnhealthyAfter: 3 * time.Second, StartDelay: 4 * time.Second}, ""},
		{"OnlyOneMeansOn", map[string]string{"ENGINE_IGNORE_SIGTERM": "true", "ENGINE_OOM": "yes"},
			testengine.Config{Port: "8080"}, ""},
		{"BadDuration", map[string]string{"ENGINE_EXIT_AFTER": "soon"}, testengine.Config{}, "ENGINE_EXIT_AFTER"},
		{"BadCode", map[string]string{"ENGINE_EXIT_CODE": "three"}, testengine.Config{}, "ENGINE_EXIT_CODE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := testengine.Read(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr+":") {
					t.Fatalf("Read = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Read (-want +got):\n%s", d)
			}
		})
	}
}
