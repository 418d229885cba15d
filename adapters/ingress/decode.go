package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/core/lifecycle"
)

// Entry field names of SPEC §4.
const (
	FieldGameID   = "game_id"
	FieldImageRef = "image_ref"
	FieldEnv      = "env"
	FieldReason   = "reason"
)

// MaxEnvBytes caps the raw env field; it comfortably holds core.MaxEnvVars
// variables of typical size, and is checked before any JSON is parsed.
const MaxEnvBytes = 64 << 10

// maxFieldBytes caps every other field before it is validated, so a huge
// value is rejected without being copied into messages.
const maxFieldBytes = 1024

// Unknown fields: an entry carrying a field the contract does not name is
// rejected with invalid_request. The field lists of SPEC §4 are complete,
// and a misspelt optional field (say "environment" for "env") would
// otherwise start an engine without the environment its producer meant.
var (
	startFields = []string{FieldGameID, FieldImageRef, FieldEnv}
	stopFields  = []string{FieldGameID, FieldReason}
)

// DecodeStart decodes a runtime:start_jobs entry: game_id and image_ref
// are required, env is optional and, when present and non-empty, a JSON
// object of string values (an empty env field means no env). Every failure
// is a *core.Error with code invalid_request. The Meta is left for the
// caller to fill.
func DecodeStart(fields map[string]string) (lifecycle.StartInput, error) {
	if err := checkFields(fields, startFields); err != nil {
		return lifecycle.StartInput{}, err
	}
	game, err := required(fields, FieldGameID)
	if err != nil {
		return lifecycle.StartInput{}, err
	}
	if err := core.ValidateGameID(game); err != nil {
		return lifecycle.StartInput{}, err
	}
	image, err := required(fields, FieldImageRef)
	if err != nil {
		return lifecycle.StartInput{}, err
	}
	if err := core.ValidateImageRef(image); err != nil {
		return lifecycle.StartInput{}, err
	}
	in := lifecycle.StartInput{GameID: game, ImageRef: image}
	if raw := fields[FieldEnv]; raw != "" {
		// Names and values are checked by the start service
		// (core.ValidateEnv), the one env check REST shares.
		if in.Env, err = decodeEnv(raw); err != nil {
			return lifecycle.StartInput{}, err
		}
	}
	return in, nil
}

// DecodeStop decodes a runtime:stop_jobs entry: game_id and reason (one of
// the stop reasons of SPEC §2) are required. Every failure is a
// *core.Error with code invalid_request.
func DecodeStop(fields map[string]string) (lifecycle.StopInput, error) {
	if err := checkFields(fields, stopFields); err != nil {
		return lifecycle.StopInput{}, err
	}
	game, err := required(fields, FieldGameID)
	if err != nil {
		return lifecycle.StopInput{}, err
	}
	if err := core.ValidateGameID(game); err != nil {
		return lifecycle.StopInput{}, err
	}
	raw, err := required(fields, FieldReason)
	if err != nil {
		return lifecycle.StopInput{}, err
	}
	reason, err := core.ParseStopReason(raw)
	if err != nil {
		return lifecycle.StopInput{}, err
	}
	return lifecycle.StopInput{GameID: game, Reason: reason}, nil
}

// checkFields rejects fields outside known and oversized values. Names are
// reported in sorted order so the message is stable.
func checkFields(fields map[string]string, known []string) error {
	var unknown []string
	for k, v := range fields {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
			continue
		}
		limit := maxFieldBytes
		if k == FieldEnv {
			limit = MaxEnvBytes
		}
		if len(v) > limit {
			return core.Errorf(core.CodeInvalidRequest, "field %s is %d bytes long; at most %d are allowed", k, len(v), limit)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		for i, k := range unknown {
			unknown[i] = fmt.Sprintf("%.64q", k)
		}
		return core.Errorf(core.CodeInvalidRequest, "unknown field(s) %s; expected only %s",
			strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return nil
}

// required returns the non-empty value of field k.
func required(fields map[string]string, k string) (string, error) {
	v, ok := fields[k]
	if !ok {
		return "", core.Errorf(core.CodeInvalidRequest, "missing field %s", k)
	}
	if v == "" {
		return "", core.Errorf(core.CodeInvalidRequest, "field %s must not be empty", k)
	}
	return v, nil
}

// decodeEnv parses a JSON object whose values are all strings. Duplicate
// names and trailing data are rejected rather than resolved silently.
func decodeEnv(raw string) (map[string]string, error) {
	bad := func(format string, args ...any) error {
		return core.Errorf(core.CodeInvalidRequest, "env: "+format, args...)
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, bad("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bad("must be a JSON object of strings, not %s", jsonKind(tok))
	}
	env := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("not JSON: %v", err)
		}
		name, _ := tok.(string) // object keys are always strings
		if _, dup := env[name]; dup {
			return nil, bad("variable %.64q is given twice", name)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, bad("not JSON: %v", err)
		}
		val, ok := tok.(string)
		if !ok {
			return nil, bad("value of %.64q must be a string, not %s", name, jsonKind(tok))
		}
		env[name] = val
		if len(env) > core.MaxEnvVars {
			return nil, bad("more than %d variables", core.MaxEnvVars)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bad("not JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("trailing data after the object")
	}
	return env, nil
}

// jsonKind names the JSON type a decoder token starts.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
