package rest

import (
	"testing"
	"unicode/utf8"

	"github.com/galaxy-game/rtmanager/core"
)

// The decoders must never panic, and every failure must be an
// invalid_request error with a message. Seed corpora live in testdata/fuzz.

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && (core.CodeOf(err) != core.CodeInvalidRequest || core.MessageOf(err) == "") {
		t.Fatalf("decoder error %v is not an invalid_request with a message", err)
	}
}

func FuzzDecodeStart(f *testing.F) {
	f.Add([]byte(`{"image_ref":"games/chess:1","env":{"MODE":"ranked"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := decodeStart(data)
		checkDecodeErr(t, err)
		if err == nil && !utf8.Valid(data) {
			t.Fatalf("invalid UTF-8 %q was accepted", data)
		}
	})
}

func FuzzDecodeStop(f *testing.F) {
	f.Add([]byte(`{"reason":"admin_request"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeStop(data)
		checkDecodeErr(t, err)
		if err == nil && b.Reason == "" {
			t.Fatal("a stop without a reason was accepted")
		}
	})
}

func FuzzDecodePatch(f *testing.F) {
	f.Add([]byte(`{"image_ref":"games/chess:2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := decodePatch(data)
		checkDecodeErr(t, err)
		checkDecodeErr(t, decodeRestart(data))
	})
}

func FuzzParseListQuery(f *testing.F) {
	f.Add("status=running&limit=100&cursor=" + encodeCursor("game-01"))
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseListQuery(raw)
		checkDecodeErr(t, err)
		if err == nil {
			if q.Limit < 1 || q.Limit > MaxLimit {
				t.Fatalf("limit %d accepted", q.Limit)
			}
			if q.Status != "" {
				if _, err := core.ParseStatus(string(q.Status)); err != nil {
					t.Fatalf("status %q accepted", q.Status)
				}
			}
			if q.After != "" {
				if got, err := decodeCursor(encodeCursor(q.After)); err != nil || got != q.After {
					t.Fatalf("cursor of %q does not round-trip: %q, %v", q.After, got, err)
				}
			}
		}
		n, err := parseOperationsQuery(raw)
		checkDecodeErr(t, err)
		if err == nil && (n < 1 || n > MaxLimit) {
			t.Fatalf("operations limit %d accepted", n)
		}
	})
}
