package runtime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat returns the state letter and start time (in clock ticks since
// boot) of a process from /proc/<pid>/stat; see proc(5). The command name in
// field 2 may contain spaces and parentheses, so parsing starts after the
// last ')'.
func procStat(pid int) (state byte, start uint64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := bytes.Fields(data[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	return fields[0][0], start, err
}

// processAlive reports whether pid is the same process that was recorded
// with the given start time and has not exited (a zombie has exited).
func processAlive(pid int, start uint64) bool {
	state, s, err := procStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || s == start
}
