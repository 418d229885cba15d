package memory_test

import (
	"testing"

	"github.com/galaxy-game/rtmanager/adapters/memory"
	"github.com/galaxy-game/rtmanager/ports"
	"github.com/galaxy-game/rtmanager/ports/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) ports.Store { return memory.NewStore() })
}

func TestStoreContractShared(t *testing.T) {
	// One store for every subtest, as a shared database would be.
	s := memory.NewStore()
	storetest.Run(t, func(*testing.T) ports.Store { return s })
}
