package config_test

import (
	"strings"
	"testing"

	"github.com/galaxy-game/rtmanager/app/config"
)

// TestStreamRetentionKeys: RTMANAGER_MAX_DELIVERIES and
// RTMANAGER_STREAM_MAXLEN default to SPEC §4's values and are validated.
func TestStreamRetentionKeys(t *testing.T) {
	c, err := config.Load(env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxDeliveries != 5 || c.StreamMaxLen != 100000 {
		t.Errorf("MaxDeliveries %d StreamMaxLen %d, want 5 and 100000", c.MaxDeliveries, c.StreamMaxLen)
	}
	c, err = config.Load(env(map[string]string{"RTMANAGER_MAX_DELIVERIES": "2", "RTMANAGER_STREAM_MAXLEN": "1000"}), "")
	if err != nil || c.MaxDeliveries != 2 || c.StreamMaxLen != 1000 {
		t.Errorf("set: %d %d %v", c.MaxDeliveries, c.StreamMaxLen, err)
	}
	for key, v := range map[string]string{"RTMANAGER_MAX_DELIVERIES": "0", "RTMANAGER_STREAM_MAXLEN": "-1"} {
		if _, err := config.Load(env(map[string]string{key: v}), ""); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: %v, want an error naming the key", key, v, err)
		}
	}
}

// TestEmbeddedRedisLoopbackOnly: a non-loopback embedded Redis address is
// a start-up error naming the key.
func TestEmbeddedRedisLoopbackOnly(t *testing.T) {
	const key = "RTMANAGER_EMBEDDED_REDIS_ADDR"
	for _, v := range []string{"0.0.0.0:6380", "[::]:6380", "192.0.2.7:6380", "redis.internal:6380"} {
		_, err := config.Load(env(map[string]string{key: v}), "")
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s=%s: %v, want a loopback error naming the key", key, v, err)
		}
	}
	for _, v := range []string{"127.0.0.1:6380", "[::1]:0", "localhost:6380", "127.0.0.2:1"} {
		if _, err := config.Load(env(map[string]string{key: v}), ""); err != nil {
			t.Errorf("%s=%s: %v", key, v, err)
		}
	}
}
