// Package process is a ports.RuntimeDriver that runs game engine
// executables as supervised local processes. It is the driver behind the
// shipped plugin rtmanager-plugin-process, and a library so an integrator
// can embed or extend it.
//
// Images. An image reference names an executable: "file:///abs/path", or a
// bare name (no slashes) resolved in Config.ImageDir. PrepareImage checks it
// exists and is executable; nothing is pulled.
//
// Containers. Start runs the executable in its own process group with the
// environment spec.Env, GAME_ID (from the game id label when spec.Env lacks
// it) and PORT, a free loopback port the driver allocates (the driver shares
// the host network, so Capabilities.PublishesPorts is false and the
// endpoint is 127.0.0.1:PORT). Stdout and stderr go to <id>.log in
// Config.StateDir. Every container is a JSON file <id>.json in the state
// dir holding its id, name, labels, image, port, pid and the process start
// time (field 22 of /proc/<pid>/stat), which together name the process even
// if its pid is later reused.
//
// Limits. Limits.MemoryBytes becomes RLIMIT_AS (set by /bin/sh's `ulimit -v`
// right before it execs the engine, so no allocation escapes it). Address
// space is not resident memory: a Go runtime alone reserves ~700 MiB it
// never touches, so the limit applied is MemoryBytes +
// Config.AddressSpaceSlack (default 1 GiB). An engine hitting it fails an
// allocation and exits; the driver marks it OOMKilled and sends EventOOM
// when the tail of its log reports running out of memory (a Go runtime
// prints "fatal error: out of memory" before its stack dump). That is a
// heuristic, so Capabilities.OOMEvents is false. NanoCPUs and PidsLimit are
// not enforced: RLIMIT_NPROC counts every process of the user, not of one
// engine, and CPU quotas need cgroups. Engines run with the driver's user
// and privileges; run the plugin as an unprivileged user.
//
// Exit codes. A child of this driver is waited for: its exit status, or
// 128+signal when a signal killed it (as Docker reports 137 for SIGKILL).
// An engine adopted from a dead driver process is not its child; the driver
// polls /proc for it and reports exit code -1 (unknown) once it is gone.
//
// Sharing and recovery. The state dir is the runtime: several drivers (in
// one process or several, e.g. the plugins of several rtmanager instances)
// may share it and see one set of containers. Every read-modify-write of a
// container file happens under an flock of <state dir>/.lock. Each running
// container names its owner, the driver process that started or adopted it
// and records its exit. New, and every Config.AdoptInterval after, adopts
// the running containers whose owner process is gone: a live engine (pid
// and start time match) is watched, a dead one recorded exited with code
// -1. So a new plugin process, started by a new host after a manager
// restart or a plugin crash, lists, stops and removes engines its
// predecessor started. Events come from the driver instance that owns the
// engine; other instances see its state through Inspect and List.
//
// Signals. Stop and Remove signal the engine's whole process group, under
// the flock. A driver reaps its children only under that lock and only
// after recording the exit, so while a file says running, a child's pid
// (and so its group id) cannot have been reused. For an adopted engine,
// whose parent is init, the start time is checked right before signalling;
// the remaining window (the engine exits and its pid is reused within
// microseconds) is accepted.
package process
