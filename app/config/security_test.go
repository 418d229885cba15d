package config_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/app/config"
)

func TestAllowedHostsAndInsecureNoAuth(t *testing.T) {
	c, err := config.Load(env(map[string]string{"RTMANAGER_ALLOWED_HOSTS": "rtm.games.svc, api.example.com:8443"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AllowedHosts.String(); got != "rtm.games.svc,api.example.com:8443" || c.InsecureNoAuth {
		t.Errorf("allowed hosts %q, insecure %v", got, c.InsecureNoAuth)
	}
	for key, v := range map[string]string{
		"RTMANAGER_ALLOWED_HOSTS":    "https://rtm.example.com",
		"RTMANAGER_INSECURE_NO_AUTH": "yes please",
	} {
		_, err := config.Load(env(map[string]string{key: v}), "")
		if err == nil || !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: err = %v, want one line naming the key", key, v, err)
		}
	}
}

// TestCheckExposure: without a token the API may listen only on loopback,
// unless the operator opts out explicitly.
func TestCheckExposure(t *testing.T) {
	tests := []struct {
		env  map[string]string
		fail bool
	}{
		{map[string]string{}, false},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "localhost:8080"}, false},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "[::1]:8080"}, false},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "0.0.0.0:8080"}, true},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "[::]:8080"}, true},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "10.0.0.5:8080"}, true},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "rtm.example.com:8080"}, true},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "0.0.0.0:8080", "RTMANAGER_API_TOKEN": "s3cret"}, false},
		{map[string]string{"RTMANAGER_HTTP_ADDR": "0.0.0.0:8080", "RTMANAGER_INSECURE_NO_AUTH": "true"}, false},
	}
	for _, tt := range tests {
		c, err := config.Load(env(tt.env), "")
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		err = c.CheckExposure()
		if (err != nil) != tt.fail {
			t.Errorf("%v: CheckExposure = %v, want failure %v", tt.env, err, tt.fail)
		}
		if err != nil {
			msg := err.Error()
			for _, key := range []string{"RTMANAGER_HTTP_ADDR", "RTMANAGER_API_TOKEN", "RTMANAGER_INSECURE_NO_AUTH"} {
				if !strings.Contains(msg, key) || strings.Contains(msg, "\n") {
					t.Errorf("error %q must be one line naming %s", msg, key)
				}
			}
		}
	}
}

// TestErrorsHideSecrets: a rejected URL is quoted in the error with its
// password masked, and the token is never quoted.
func TestErrorsHideSecrets(t *testing.T) {
	const pw = "hunter2-pw"
	for key, v := range map[string]string{
		"RTMANAGER_DATABASE_URL": "postgres://rtm:" + pw + "@db:notaport/rtm",
		"RTMANAGER_REDIS_URL":    "http://:" + pw + "@cache:6379",
	} {
		_, err := config.Load(env(map[string]string{key: v}), "")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("%s=%q: err = %v", key, v, err)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: the error prints the password: %v", key, err)
		}
	}
	_, err := config.Load(env(map[string]string{"RTMANAGER_DATABASE_URL": "mysql://rtm:" + pw + "@db/rtm"}), "")
	if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "mysql://rtm:***@db/rtm") {
		t.Errorf("unsupported scheme: %v", err)
	}
}
