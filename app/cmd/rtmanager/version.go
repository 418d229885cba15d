package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and revision are stamped at build time (scripts/release.sh,
// scripts/image.sh) with
//
//	-ldflags "-X main.version=v1.2.3 -X main.revision=<git commit>"
//
// An unstamped revision falls back to the VCS revision the go command
// recorded in the binary, if any.
var (
	version  = "dev"
	revision = ""
)

// buildRevision returns the stamped revision, else the vcs.revision build
// setting (with "-dirty" when the tree was modified), else "unknown".
func buildRevision() string {
	if revision != "" {
		return revision
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev + dirty
}

// printVersion writes the one-line answer of `rtmanager version`:
//
//	rtmanager v1.2.3 (revision 0123abc…, go1.26.8 linux/amd64)
func printVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "rtmanager %s (revision %s, %s %s/%s)\n",
		version, buildRevision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
