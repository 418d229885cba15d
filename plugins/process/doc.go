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
// Isolation. This driver is for development unless Config.User and
// Config.CgroupRoot are set (it logs a warning at start-up otherwise).
// An engine runs as spec.User, else Config.User (numeric uid:gid; needs a
// root plugin), else as the plugin's own user. Its rlimits are set by
// /bin/sh right before it execs the engine (exec keeps the pid, so pid and
// start time still name the engine): RLIMIT_CORE 0, RLIMIT_NOFILE
// (Config.MaxOpenFiles), RLIMIT_AS = Limits.MemoryBytes +
// Config.AddressSpaceSlack (default 1 GiB: a Go runtime alone reserves
// ~700 MiB it never touches), and under a dedicated user RLIMIT_NPROC =
// Limits.PidsLimit (which counts every process of that uid). With
// Config.CgroupRoot (cgroup v2) the engine is cloned into its own cgroup
// with memory.max, cpu.max and pids.max, and an OOM kill is read from
// memory.events. Without a cgroup an engine hitting RLIMIT_AS fails an
// allocation and exits; the driver marks it OOMKilled when the tail of its
// log reports running out of memory, a heuristic, so
// Capabilities.OOMEvents is false. spec.ReadOnlyRootFS is refused
// (ErrInvalid): engines share the host's filesystem.
//
// Executables. A file:// path must be clean, lie under Config.ImageRoot
// when set, and contain no symlink; the driver opens it with openat2
// RESOLVE_NO_SYMLINKS and executes that descriptor, so what runs is the
// file rtmanager's allow-list matched.
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
