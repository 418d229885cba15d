// Package ports declares the roles rtmanager's core needs from the world:
// durable records and audit, leases, runtime drivers, publishers, probes and
// telemetry. Adapters implement them and translate their library's errors
// into the sentinels below; core checks them with errors.Is and never parses
// error strings.
package ports

import "errors"

// Sentinel errors every adapter returns (wrapped, with context) for the
// conditions they name.
var (
	// ErrNotFound: the record, container or snapshot does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap lost, or a create met an existing row.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the dependency (database, Redis, runtime daemon,
	// plugin) could not be reached or failed transiently.
	ErrUnavailable = errors.New("unavailable")
	// ErrImageUnavailable: the image is missing locally and cannot be pulled.
	ErrImageUnavailable = errors.New("image unavailable")
	// ErrInvalid: the adapter rejected its input (a bad spec, a bad cursor).
	ErrInvalid = errors.New("invalid")
	// ErrCapacity: a conditional write found its capacity limit reached
	// and wrote nothing (RecordStore.Reserve).
	ErrCapacity = errors.New("capacity reached")
)
