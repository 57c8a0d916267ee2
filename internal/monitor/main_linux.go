// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Main is `berth monitor --dir DIR [--detach]`. With --detach it starts
// the monitor as a new session, waits until it serves DIR/monitor.sock (or
// finds another monitor serving it) and returns, so that the monitor is
// re-parented away from whoever started it.
func Main(args []string) int {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	dir := fs.String("dir", "", "state directory")
	detach := fs.Bool("detach", false, "start the monitor in the background and return once it serves")
	readyFD := fs.Int("ready-fd", -1, "write one byte to this fd once serving")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "berth monitor: --dir is required")
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth monitor:", err)
		return 1
	}
	if *detach {
		if err := startDetached(abs); err != nil {
			fmt.Fprintln(os.Stderr, "berth monitor:", err)
			return 1
		}
		return 0
	}
	var ready *os.File
	if *readyFD >= 0 {
		ready = os.NewFile(uintptr(*readyFD), "ready")
	}
	if err := run(abs, ready); err != nil {
		fmt.Fprintln(os.Stderr, "berth monitor:", err)
		return 1
	}
	return 0
}

// startDetached starts `berth monitor --dir dir --ready-fd 3` in a new
// session with its output in dir/monitor.log, and waits for its signal.
func startDetached(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := os.StartProcess(exe, []string{"berth", "monitor", "--dir", dir, "--ready-fd", "3"}, &os.ProcAttr{
		Dir:   "/",
		Files: []*os.File{devnull, logf, logf, w},
		Sys:   &unix.SysProcAttr{Setsid: true},
	})
	w.Close()
	if err != nil {
		return err
	}
	p.Release()
	if n, _ := r.Read(make([]byte, 1)); n != 1 {
		return fmt.Errorf("monitor did not start; see %s", filepath.Join(dir, logName))
	}
	return nil
}

// run is the monitor: it serves dir until SIGTERM or SIGINT. ready, if
// not nil, gets one byte once the socket is served (or another monitor
// serves it).
func run(dir string, ready *os.File) error {
	signalReady := func() {
		if ready != nil {
			ready.Write([]byte{1})
			ready.Close()
			ready = nil
		}
	}
	defer signalReady()
	if err := os.MkdirAll(filepath.Join(dir, exitsDir), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil // another monitor serves dir
		}
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	lock.Truncate(0)
	lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)

	// Orphaned descendants (the container processes, once the runtime's
	// intermediate process exits) become this process's children.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := newServer(dir, log)
	if err != nil {
		return err
	}
	// Notified, not ignored: an ignored signal would stay ignored in
	// every process the monitor starts.
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, unix.SIGCHLD)
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)

	var l *net.UnixListener
	err = withShortPath(dir, func(p string) error {
		os.Remove(p)
		var err error
		if l, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: p, Net: "unixpacket"}); err != nil {
			return err
		}
		l.SetUnlinkOnClose(false)
		return os.Chmod(p, 0o600)
	})
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	go func() {
		for range sigchld {
			s.reap()
		}
	}()
	s.reap()
	go s.accept(l)
	log.Info("monitor started", "dir", dir, "pid", os.Getpid())
	signalReady()
	sig := <-term
	log.Info("monitor stopping", "signal", sig.String())
	os.Remove(filepath.Join(dir, socketName))
	return nil
}
