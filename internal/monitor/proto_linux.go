// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Message kinds: the first byte of every message.
const (
	msgRequest    = 'q'
	msgReply      = 'r'
	msgEvent      = 'e'
	msgStdout     = 1
	msgStderr     = 2
	msgStdin      = 'i'
	msgCloseStdin = 'c'
	msgEnd        = 'x'
)

const (
	// maxMsg is the largest message either side reads.
	maxMsg = 64 * 1024
	// maxData is the most stream data one message carries.
	maxData = 32 * 1024
	// maxFDs is the most files one request carries.
	maxFDs = 64
)

const (
	socketName  = "monitor.sock"
	lockName    = "monitor.pid"
	logName     = "monitor.log"
	exitsDir    = "exits"
	exitsTmpDir = "exits.tmp" // see fsutil.TempDirs
)

// Config describes a process started through the monitor.
type Config struct {
	// ID names the process: a container ID, or "containerID/execID".
	ID string
	// Tty: the process has a pty (sent with Console); otherwise its
	// stdout and stderr are pipes to the monitor.
	Tty bool
	// OpenStdin gives the process a stdin that attach clients write to;
	// otherwise its stdin is /dev/null.
	OpenStdin bool
	// StdinOnce closes the process's stdin when an attach client that
	// was attached to it ends its input or goes away.
	StdinOnce bool
	// LogPath is the json-file log to write the output to ("" for none),
	// rotated at LogMaxSize bytes (0: never) keeping LogMaxFiles files.
	LogPath     string
	LogMaxSize  int64
	LogMaxFiles int
}

// Exit is a process's exit.
type Exit struct {
	ID  string `json:"id"`
	Pid int    `json:"pid"`
	// Code is the exit status, or 128 + the signal that killed it.
	Code     int       `json:"code"`
	ExitedAt time.Time `json:"exitedAt"`
}

// Process is what the monitor knows of a process.
type Process struct {
	ID string
	// Pid is the watched pid (0 until Watch).
	Pid int
	// Running is true until the exit is complete (also for a process
	// launched but never watched).
	Running  bool
	Code     int
	ExitedAt time.Time
	Tty      bool
}

type request struct {
	Seq    uint64   `json:"seq"`
	Op     string   `json:"op"`
	ID     string   `json:"id,omitempty"`
	Config *Config  `json:"config,omitempty"`
	Path   string   `json:"path,omitempty"`
	Args   []string `json:"args,omitempty"`
	Env    []string `json:"env,omitempty"`
	Dir    string   `json:"dir,omitempty"`
	Pid    int      `json:"pid,omitempty"`
	Height uint16   `json:"height,omitempty"`
	Width  uint16   `json:"width,omitempty"`
	Stdin  bool     `json:"stdin,omitempty"`
	Stdout bool     `json:"stdout,omitempty"`
	Stderr bool     `json:"stderr,omitempty"`
}

type reply struct {
	Seq   uint64    `json:"seq"`
	Error string    `json:"error,omitempty"`
	Class string    `json:"class,omitempty"`
	Pid   int       `json:"pid,omitempty"`
	Procs []Process `json:"procs,omitempty"`
}

// Error classes as they travel in replies.
var classes = map[string]error{
	"notfound":     errdefs.ErrNotFound,
	"exists":       errdefs.ErrAlreadyExists,
	"invalid":      errdefs.ErrInvalidArgument,
	"precondition": errdefs.ErrFailedPrecondition,
}

func errorReply(seq uint64, err error) reply {
	r := reply{Seq: seq, Error: err.Error()}
	for name, class := range classes {
		if errors.Is(err, class) {
			r.Class = name
		}
	}
	return r
}

// remoteError is an error the monitor replied with; it unwraps to its
// errdefs class.
type remoteError struct {
	msg   string
	class error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.class }

func (r reply) err() error {
	if r.Error == "" {
		return nil
	}
	return &remoteError{msg: r.Error, class: classes[r.Class]}
}

func errorf(class error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), class)
}

// exitFileName escapes an ID into one file name.
func exitFileName(id string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(id)
}

// Unix socket paths are limited to 108 bytes; the socket is reached
// through /proc/self/fd/<dirfd>/ so that DIR may be any length.
func withShortPath(dir string, fn func(path string) error) error {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(d)
	return fn(filepath.Join("/proc/self/fd", strconv.Itoa(d), socketName))
}

func dial(dir string) (*net.UnixConn, error) {
	var conn *net.UnixConn
	err := withShortPath(dir, func(p string) error {
		var err error
		conn, err = net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: p, Net: "unixpacket"})
		return err
	})
	return conn, err
}

// parseRights returns the files a message carried.
func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if f, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, f...)
		}
	}
	return fds
}
