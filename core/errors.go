package core

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable error code. Codes appear in the `error_code` field of
// operation-log entries, REST error bodies and stream job results; other
// services depend on their spelling.
type Code string

// The stable error codes of SPEC §2.
const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeUnauthorized       Code = "unauthorized"
	CodeForbidden          Code = "forbidden"
	CodeNotFound           Code = "not_found"
	CodeConflict           Code = "conflict"
	CodeImageUnavailable   Code = "image_unavailable"
	CodeStartFailed        Code = "start_failed"
	CodeServiceUnavailable Code = "service_unavailable"
	CodeInternal           Code = "internal"
	CodeCapacityExceeded   Code = "capacity_exceeded"
	CodeUnsupported        Code = "unsupported"
	CodeReplayNoOp         Code = "replay_no_op"
)

// codeHTTP maps every code to its HTTP status. It is the one table REST and
// stream results derive their answers from.
var codeHTTP = map[Code]int{
	CodeInvalidRequest:     http.StatusBadRequest,
	CodeUnauthorized:       http.StatusUnauthorized,
	CodeForbidden:          http.StatusForbidden,
	CodeNotFound:           http.StatusNotFound,
	CodeConflict:           http.StatusConflict,
	CodeImageUnavailable:   http.StatusUnprocessableEntity,
	CodeStartFailed:        http.StatusBadGateway,
	CodeServiceUnavailable: http.StatusServiceUnavailable,
	CodeInternal:           http.StatusInternalServerError,
	CodeCapacityExceeded:   http.StatusTooManyRequests,
	CodeUnsupported:        http.StatusNotImplemented,
	CodeReplayNoOp:         http.StatusOK,
}

// Codes returns every stable code in a fixed order.
func Codes() []Code {
	return []Code{CodeInvalidRequest, CodeUnauthorized, CodeForbidden, CodeNotFound,
		CodeConflict, CodeImageUnavailable, CodeStartFailed, CodeServiceUnavailable,
		CodeInternal, CodeCapacityExceeded, CodeUnsupported, CodeReplayNoOp}
}

// Known reports whether c is one of the stable codes.
func (c Code) Known() bool {
	_, ok := codeHTTP[c]
	return ok
}

// HTTPStatus returns the HTTP status for c; unknown codes map to 500.
func (c Code) HTTPStatus() int {
	if s, ok := codeHTTP[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Success reports whether an operation that ended with c reached its desired
// state: the empty code (a fresh success) and replay_no_op both do.
func (c Code) Success() bool { return c == "" || c == CodeReplayNoOp }

// Error is rtmanager's one error type: a stable code and an operator-readable
// message.
type Error struct {
	Code    Code
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err: the empty code for nil, the code of the
// first *Error in err's chain, and CodeInternal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// MessageOf returns the message of the first *Error in err's chain, or
// err.Error() for any other error, or "" for nil.
func MessageOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
