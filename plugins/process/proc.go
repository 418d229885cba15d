package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	state      byte
	startTicks uint64
	// cpuTicks is user+system CPU time (fields 14 and 15), in clock ticks.
	cpuTicks uint64
}

// readStat reads /proc/<pid>/stat. The command name (field 2) may contain
// spaces and parentheses, so fields are counted after its last ')'.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(data)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// parseStat parses the content of a /proc/<pid>/stat file.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("no command name")
	}
	// After ") " come field 3 (state) onwards; starttime is field 22.
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("%d fields, want at least 22", len(fields)+2)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("starttime: %w", err)
	}
	st := procStat{state: fields[0][0], startTicks: start}
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("cpu time: %w", err)
		}
		st.cpuTicks += n
	}
	return st, nil
}

// alive reports whether the process pid that started at startTicks still
// runs: it exists, is not a zombie, and its start time matches (so a reused
// pid is not mistaken for it).
func alive(pid int, startTicks uint64) bool {
	st, err := readStat(pid)
	if err != nil {
		return false
	}
	return st.startTicks == startTicks && st.state != 'Z' && st.state != 'X'
}

// killGroup sends sig to the process group pgid, ignoring a group that is
// already gone.
func killGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", pgid, err)
	}
	return nil
}
