// Package scale holds the scale-out test of SPEC §10 (build tag e2e): three
// rtmanager instances share one PostgreSQL database, one Redis and one
// Docker engine while one of them is killed under load.
package scale
