// Package core holds rtmanager's vocabulary: runtime statuses and their
// transitions, stable error codes, stop reasons, operation kinds and sources,
// operation-log entries, health events, game id validation and the image
// allow-list. It imports nothing but the standard library; the lifecycle
// services that use it live in core/lifecycle and reach the world only
// through the interfaces in package ports.
package core
