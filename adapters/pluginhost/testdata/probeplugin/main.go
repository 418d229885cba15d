// Command probeplugin is a test plugin: the shipped process driver plus
// what the host's isolation tests look at. At start it writes its
// environment to env.txt in its state dir, and it spawns one child process
// in its own process group (as a plugin wrapping a CLI runs `docker events`),
// whose pid it appends to children.txt in its state dir.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/galaxy-game/rtmanager/plugins/process"
	"github.com/galaxy-game/rtmanager/plugins/sdk"
)

func main() {
	log := sdk.Logger()
	dir := sdk.StateDir("probeplugin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Error("state dir", "error", err)
		os.Exit(1)
	}
	env := strings.Join(os.Environ(), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte(env), 0o600); err != nil {
		log.Error("write env", "error", err)
		os.Exit(1)
	}
	child := exec.Command("sleep", "3600") // stdio on /dev/null, same process group
	if err := child.Start(); err != nil {
		log.Error("spawn child", "error", err)
		os.Exit(1)
	}
	f, err := os.OpenFile(filepath.Join(dir, "children.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = fmt.Fprintln(f, child.Process.Pid)
		f.Close()
	}
	if err != nil {
		log.Error("record child", "error", err)
		os.Exit(1)
	}
	d, err := process.New(process.Config{StateDir: filepath.Join(dir, "engines"), Logger: log})
	if err != nil {
		log.Error("start process driver", "error", err)
		os.Exit(1)
	}
	sdk.Serve(d)
}
