package telemetry_test

import (
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/adapters/sqlstore"
	"github.com/galaxy-game/rtmanager/internal/testenv"
	"github.com/galaxy-game/rtmanager/ports"
)

// TestWrapStoreKeepsCapabilities: the traced store rtmanager serve hands
// to lifecycle keeps the store's optional capabilities — SwapAppend on
// the SQL store (a record swap and its audit entry in one statement) and
// the batch reads, SwapAppendSnapshot and the batched start writes — and
// claims no SwapAppend or SwapAppendSnapshot for a store without them.
func TestWrapStoreKeepsCapabilities(t *testing.T) {
	tel := mustNew(t)
	db, err := sqlstore.Open(t.Context(), "sqlite://"+t.TempDir()+"/rtm.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	traced := tel.WrapStore(db)
	testenv.Capability[ports.SwapAppender](t, db) // the store itself has it
	if _, ok := traced.(ports.SwapAppender); !ok {
		t.Fatal("WrapStore(sqlstore) hides ports.SwapAppender")
	}
	if _, ok := traced.(ports.BatchReader); !ok {
		t.Fatal("WrapStore(sqlstore) hides ports.BatchReader")
	}
	// The start's running write with its snapshot (ports.SwapSnapshotter)
	// and the batched start writes.
	if _, ok := traced.(ports.SwapSnapshotter); !ok {
		t.Fatal("WrapStore(sqlstore) hides ports.SwapSnapshotter")
	}
	if _, ok := traced.(ports.BatchSwapSnapshotter); !ok {
		t.Fatal("WrapStore(sqlstore) hides ports.BatchSwapSnapshotter")
	}
	if _, ok := traced.(ports.BatchCreator); !ok {
		t.Fatal("WrapStore(sqlstore) hides ports.BatchCreator")
	}
	if _, ok := tel.WrapStore(memory.NewStore()).(ports.SwapSnapshotter); ok {
		t.Fatal("WrapStore(memory store) claims ports.SwapSnapshotter")
	}
	if _, ok := tel.WrapStore(memory.NewStore()).(ports.SwapAppender); ok {
		t.Fatal("WrapStore(memory store) claims ports.SwapAppender")
	}
}
