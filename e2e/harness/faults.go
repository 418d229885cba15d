package harness

// Helpers for fault tests: private redis-server and PostgreSQL instances a
// test may stop and start again without touching the shared services, the
// Docker containers rtmanager made, and the processes below a pid.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galaxy-game/rtmanager/internal/testenv"
)

// Redis is a private redis-server on a loopback port. It keeps its data in
// an append-only file fsynced on every write, so a Kill followed by Start
// loses nothing that was acknowledged, as a production Redis with AOF.
type Redis struct {
	tb     testing.TB
	Port   int
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartRedis starts a private redis-server and stops it when tb ends. A
// missing redis-server skips tb locally and fails it in CI.
func StartRedis(tb testing.TB) *Redis {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Missing(tb, "redis-server: %v", err)
	}
	_, p, _ := net.SplitHostPort(FreeAddr(tb))
	port, _ := strconv.Atoi(p)
	r := &Redis{tb: tb, Port: port, Dir: tb.TempDir()}
	r.Start()
	tb.Cleanup(r.Kill)
	return r
}

// Addr returns 127.0.0.1:port.
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// URL returns the redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// Start launches the server (again) on the same port and data directory
// and waits until it answers PING.
func (r *Redis) Start() {
	r.tb.Helper()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port),
		"--dir", r.Dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--logfile", filepath.Join(r.Dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.tb.Fatalf("start redis-server: %v", err)
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for !r.Ping() {
		select {
		case <-r.exited:
			log, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
			r.tb.Fatalf("redis-server on %s exited at start-up:\n%s", r.Addr(), log)
		default:
		}
		if time.Now().After(deadline) {
			r.tb.Fatalf("redis-server on %s not answering PING", r.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Ping reports whether the server answers PING within a second.
func (r *Redis) Ping() bool { return redisPing(r.Addr()) }

// Kill sends SIGKILL to the server and waits for it to exit (a crash: the
// AOF keeps every acknowledged write).
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
}

// Postgres is a private PostgreSQL cluster (initdb in a temp dir, trust
// authentication on 127.0.0.1) a test may stop and start again.
type Postgres struct {
	tb   testing.TB
	Port int
	Dir  string
	bin  string
	user string // run the server as this user ("" = the test's user)
}

// PostgresBinDir is where StartPostgres looks for initdb and pg_ctl.
var PostgresBinDir = "/usr/lib/postgresql/15/bin"

// StartPostgres initialises and starts a private cluster, and removes it
// when tb ends. As root, the cluster runs as the postgres user. A missing
// PostgreSQL installation skips tb locally and fails it in CI.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	bin := PostgresBinDir
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		testenv.Missing(tb, "PostgreSQL binaries in %s: %v", bin, err)
	}
	dir, err := os.MkdirTemp("", "rtm-pg-")
	if err != nil {
		tb.Fatalf("temp dir: %v", err)
	}
	p := &Postgres{tb: tb, Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			testenv.Missing(tb, "user postgres (initdb refuses root): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatalf("chown %s: %v", dir, err)
		}
		p.user = "postgres"
	}
	tb.Cleanup(func() {
		_ = p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	_, port, _ := net.SplitHostPort(FreeAddr(tb))
	p.Port, _ = strconv.Atoi(port)
	if err := p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		tb.Fatalf("initdb: %v", err)
	}
	p.Start()
	return p
}

func (p *Postgres) data() string { return filepath.Join(p.Dir, "data") }

// URL returns the URL of database postgres.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Addr returns 127.0.0.1:port.
func (p *Postgres) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Start starts the cluster and waits until it accepts connections.
func (p *Postgres) Start() {
	p.tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.Port, p.Dir)
	if err := p.run("pg_ctl", "-D", p.data(), "-o", opts, "-l", filepath.Join(p.Dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.Dir, "log"))
		p.tb.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

// Stop stops the cluster with the fast mode: open connections are
// terminated, as when a database server goes down for maintenance.
func (p *Postgres) Stop() {
	p.tb.Helper()
	if err := p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "stop"); err != nil {
		p.tb.Fatalf("pg_ctl stop: %v", err)
	}
}

func (p *Postgres) run(name string, args ...string) error {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.user != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.user, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = p.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}

// DockerContainer is one container as `docker ps -a` lists it.
type DockerContainer struct {
	ID, Name, State string
	GameID          string
	Generation      string
}

// DockerContainers lists every container (running or not) labelled
// rtmanager.managed=true whose game id starts with prefix.
func DockerContainers(tb testing.TB, prefix string) []DockerContainer {
	tb.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--no-trunc", "--filter", "label=rtmanager.managed=true",
		"--format", `{{.ID}}|{{.Names}}|{{.State}}|{{.Label "rtmanager.game_id"}}|{{.Label "rtmanager.generation"}}`).Output()
	if err != nil {
		tb.Fatalf("docker ps: %v", err)
	}
	var cs []DockerContainer
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 || !strings.HasPrefix(f[3], prefix) {
			continue
		}
		cs = append(cs, DockerContainer{ID: f[0], Name: f[1], State: f[2], GameID: f[3], Generation: f[4]})
	}
	return cs
}

// RemoveDockerContainersByPrefix force-removes, when tb ends, the
// rtmanager containers whose game id starts with prefix.
func RemoveDockerContainersByPrefix(tb testing.TB, prefix string) {
	tb.Cleanup(func() {
		for _, c := range DockerContainers(tb, prefix) {
			_ = exec.Command("docker", "rm", "-f", c.ID).Run()
		}
	})
}

// ChildPids returns the pids of the live processes whose parent is pid.
func ChildPids(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(p); ok && ppid == pid {
			kids = append(kids, p)
		}
	}
	return kids
}

// ProcStartTime returns field 22 of /proc/pid/stat (the start time in clock
// ticks since boot), which with the pid names one process; ok is false when
// the process is gone or a zombie.
func ProcStartTime(pid int) (start uint64, ok bool) {
	_, start, ok = procStat(pid)
	return start, ok
}

// procStat parses the parent pid and start time of pid.
func procStat(pid int) (ppid int, start uint64, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return ppid, start, true
}

// ProcExe returns the executable of pid ("" when unknown).
func ProcExe(pid int) string {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return exe
}
