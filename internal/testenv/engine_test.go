package testenv

import (
	"os"
	"testing"
)

func TestEngineArtefacts(t *testing.T) {
	bin := EngineBinary(t)
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("engine binary %s: %v (mode %v)", bin, err, st.Mode())
	}
	ref := EngineImage(t)
	if want := engineImageRef(engineBinHash); ref != want {
		t.Fatalf("EngineImage = %q, want %q", ref, want)
	}
	tarball := EngineTarball(t)
	if st, err := os.Stat(tarball); err != nil || st.Size() == 0 {
		t.Fatalf("engine tarball %s: %v", tarball, err)
	}
	t.Logf("binary %s, image %s, tarball %s", bin, ref, tarball)
}
