package core_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/core"
)

func TestValidateEnv(t *testing.T) {
	many := map[string]string{}
	for i := range core.MaxEnvVars + 1 {
		many["K"+strings.Repeat("X", i)] = "v"
	}
	big := map[string]string{}
	for i := range 20 {
		big["K"+strings.Repeat("X", i)] = strings.Repeat("v", core.MaxEnvValueLen)
	}
	tests := []struct {
		name string
		env  map[string]string
		deny core.EnvDeny
		ok   bool
	}{
		{"nil", nil, nil, true},
		{"plain", map[string]string{"MODE": "ranked", "_X1": ""}, nil, true},
		{"reserved GAME_ID", map[string]string{"GAME_ID": "x"}, nil, false},
		{"reserved PORT", map[string]string{"PORT": "1"}, nil, false},
		{"reserved RTMANAGER_", map[string]string{"RTMANAGER_API_TOKEN": "x"}, nil, false},
		{"reserved RTMANAGER_ even with an empty deny list", map[string]string{"RTMANAGER_X": "x"}, core.EnvDeny{}, false},
		{"lower case", map[string]string{"mode": "x"}, nil, false},
		{"mixed case", map[string]string{"Ld_Preload": "x"}, nil, false},
		{"digit first", map[string]string{"1A": "x"}, nil, false},
		{"empty name", map[string]string{"": "x"}, nil, false},
		{"dash", map[string]string{"A-B": "x"}, nil, false},
		{"equals", map[string]string{"A=B": "x"}, nil, false},
		{"unicode", map[string]string{"ÄB": "x"}, nil, false},
		{"NUL in name", map[string]string{"A\x00": "x"}, nil, false},
		{"NUL in value", map[string]string{"A": "x\x00"}, nil, false},
		{"huge value", map[string]string{"A": strings.Repeat("x", core.MaxEnvValueLen+1)}, nil, false},
		{"long name", map[string]string{strings.Repeat("A", core.MaxEnvKeyLen+1): "x"}, nil, false},
		{"too many", many, nil, false},
		{"too many bytes", big, nil, false},
		{"LD_PRELOAD", map[string]string{"LD_PRELOAD": "/tmp/x.so"}, nil, false},
		{"LD_LIBRARY_PATH", map[string]string{"LD_LIBRARY_PATH": "/tmp"}, nil, false},
		{"BASH_ENV", map[string]string{"BASH_ENV": "/tmp/x"}, nil, false},
		{"ENV", map[string]string{"ENV": "/tmp/x"}, nil, false},
		{"PATH", map[string]string{"PATH": "/tmp"}, nil, false},
		{"IFS", map[string]string{"IFS": "/"}, nil, false},
		{"NODE_OPTIONS", map[string]string{"NODE_OPTIONS": "--require x"}, nil, false},
		{"PYTHONPATH", map[string]string{"PYTHONPATH": "/tmp"}, nil, false},
		{"PYTHONSTARTUP", map[string]string{"PYTHONSTARTUP": "/tmp"}, nil, false},
		{"PERL5OPT", map[string]string{"PERL5OPT": "-Mx"}, nil, false},
		{"RUBYOPT", map[string]string{"RUBYOPT": "-rx"}, nil, false},
		{"JAVA_TOOL_OPTIONS", map[string]string{"JAVA_TOOL_OPTIONS": "-javaagent:x"}, nil, false},
		{"names near the deny list pass", map[string]string{"MY_PATH": "x", "ENVIRONMENT": "x", "OLD_PRELOAD": "x"}, nil, true},
		{"custom list replaces the default", map[string]string{"LD_PRELOAD": "x"}, core.EnvDeny{"SECRET_*"}, true},
		{"custom list denies", map[string]string{"SECRET_KEY": "x"}, core.EnvDeny{"SECRET_*"}, false},
		{"? pattern", map[string]string{"AB": "x"}, core.EnvDeny{"A?"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := core.ValidateEnv(tt.env, tt.deny)
			if tt.ok != (err == nil) || (err != nil && core.CodeOf(err) != core.CodeInvalidRequest) {
				t.Errorf("ValidateEnv = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestParseEnvDeny(t *testing.T) {
	d, err := core.ParseEnvDeny(" A_* , ,B? ")
	if err != nil || len(d) != 2 || d[0] != "A_*" || d[1] != "B?" {
		t.Fatalf("ParseEnvDeny = %q, %v", d, err)
	}
	def, err := core.ParseEnvDeny("  ")
	if err != nil || def.Denies("LD_PRELOAD") != "LD_*" || def.Denies("JAVA_TOOL_OPTIONS") == "" {
		t.Errorf("an empty list must mean the default: %q, %v", def, err)
	}
	for _, bad := range []string{"ld_*", "A-B", "A B", "A=1", "Ä"} {
		if _, err := core.ParseEnvDeny(bad); core.CodeOf(err) != core.CodeInvalidRequest {
			t.Errorf("ParseEnvDeny(%q) = %v, want invalid_request", bad, err)
		}
	}
}
