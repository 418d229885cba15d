package rest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/galaxy-game/rtmanager/core"
	"github.com/galaxy-game/rtmanager/ports"
)

// Paging limits of the list endpoints.
const (
	DefaultListLimit       = 100
	DefaultOperationsLimit = 50
	MaxLimit               = 1000
	// MaxHeaderValueLen bounds X-Request-Id and X-Admin-User.
	MaxHeaderValueLen = 128
)

// StartBody is the body of POST /runtimes/{game_id}/start.
type StartBody struct {
	ImageRef string            `json:"image_ref"`
	Env      map[string]string `json:"env"`
}

// StopBody is the body of POST /runtimes/{game_id}/stop.
type StopBody struct {
	Reason string `json:"reason"`
}

// PatchBody is the body of POST /runtimes/{game_id}/patch.
type PatchBody struct {
	ImageRef string `json:"image_ref"`
}

// RestartBody is the body of POST /runtimes/{game_id}/restart; it has no
// fields.
type RestartBody struct{}

func invalid(format string, args ...any) error {
	return core.Errorf(core.CodeInvalidRequest, format, args...)
}

// readBody reads r's body, at most limit bytes, after checking that its
// Content-Type, if any, is JSON.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, invalid("Content-Type %q is not supported; send application/json", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, invalid("request body exceeds %d bytes", limit)
		}
		return nil, invalid("reading request body: %v", err)
	}
	return data, nil
}

// decodeJSON strictly decodes data into v: one JSON object, no unknown
// fields, nothing after it. An empty body (only white space) decodes as {}.
func decodeJSON(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	if !utf8.Valid(trimmed) {
		return invalid("request body is not valid UTF-8")
	}
	if trimmed[0] != '{' {
		return invalid("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body must hold exactly one JSON value")
	}
	return nil
}

// jsonError turns an encoding/json error into an invalid_request error with
// an operator-readable message.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalid("request body is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field, want := typ.Field, jsonType(typ.Type.String())
		switch {
		case field == "":
			field = "request body"
		case field == "env" && want == "a string":
			field, want = "env values", "strings"
		}
		return invalid("%s must be %s, not JSON %s", field, want, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("request body is truncated JSON")
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid("unknown field %s in request body", msg)
	}
	return invalid("request body: %v", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "map["):
		return "an object of strings"
	case strings.HasPrefix(goType, "struct") || strings.HasPrefix(goType, "rest."):
		return "an object"
	}
	return goType
}

// decodeStart decodes a start body. image_ref and env are validated by the
// start service, not here.
func decodeStart(data []byte) (StartBody, error) {
	var b StartBody
	err := decodeJSON(data, &b)
	return b, err
}

// decodeStop decodes a stop body; reason is required and must be a stop
// reason of SPEC §2.
func decodeStop(data []byte) (StopBody, error) {
	var b StopBody
	if err := decodeJSON(data, &b); err != nil {
		return b, err
	}
	if b.Reason == "" {
		return b, invalid("reason is required: one of %s", oneOf(core.StopReasons()))
	}
	return b, nil
}

// decodePatch decodes a patch body.
func decodePatch(data []byte) (PatchBody, error) {
	var b PatchBody
	err := decodeJSON(data, &b)
	return b, err
}

// decodeRestart decodes a restart body: empty or {}.
func decodeRestart(data []byte) error {
	return decodeJSON(data, &RestartBody{})
}

// encodeCursor returns the opaque cursor for a store's next-page key.
func encodeCursor(after string) string {
	if after == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

// decodeCursor returns the store key of an opaque cursor.
func decodeCursor(cursor string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || core.ValidateGameID(string(raw)) != nil {
		return "", invalid("cursor %q is not a cursor this API returned", truncate(cursor, 80))
	}
	return string(raw), nil
}

// parseListQuery parses the query of GET /runtimes: status, limit (1..1000,
// default 100) and cursor. Unknown or repeated parameters are rejected.
func parseListQuery(raw string) (ports.ListQuery, error) {
	q := ports.ListQuery{Limit: DefaultListLimit}
	vals, err := queryValues(raw, "status", "limit", "cursor")
	if err != nil {
		return q, err
	}
	if s, ok := vals["status"]; ok {
		st, err := core.ParseStatus(s)
		if err != nil {
			return q, invalid("status %q is not one of %s", truncate(s, 80), oneOf(core.Statuses()))
		}
		q.Status = st
	}
	if q.Limit, err = parseLimit(vals, DefaultListLimit); err != nil {
		return q, err
	}
	if c, ok := vals["cursor"]; ok && c != "" {
		if q.After, err = decodeCursor(c); err != nil {
			return q, err
		}
	}
	return q, nil
}

// parseOperationsQuery parses the query of GET /runtimes/{id}/operations
// and returns its limit (1..1000, default 50).
func parseOperationsQuery(raw string) (int, error) {
	vals, err := queryValues(raw, "limit")
	if err != nil {
		return 0, err
	}
	return parseLimit(vals, DefaultOperationsLimit)
}

func parseLimit(vals map[string]string, def int) (int, error) {
	s, ok := vals["limit"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, invalid("limit %q must be an integer from 1 to %d", truncate(s, 80), MaxLimit)
	}
	return n, nil
}

// queryValues parses raw and returns one value per parameter, rejecting
// malformed queries and parameters that are unknown or repeated.
func queryValues(raw string, known ...string) (map[string]string, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, invalid("malformed query string: %v", err)
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		ok := false
		for _, name := range known {
			ok = ok || k == name
		}
		if !ok {
			return nil, invalid("unknown query parameter %q; known: %s", truncate(k, 80), strings.Join(known, ", "))
		}
		if len(v) != 1 {
			return nil, invalid("query parameter %q is given %d times", k, len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

// validHeaderValue reports whether v is 1..MaxHeaderValueLen bytes of
// printable UTF-8.
func validHeaderValue(v string) bool {
	if v == "" || len(v) > MaxHeaderValueLen || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(s[:n], ""), len(s))
}

// oneOf lists vocabulary values for an error message: "a, b, c".
func oneOf[T ~string](values []T) string {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return strings.Join(names, ", ")
}
