// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Daemon is a `berth daemon` started by a test, with its own data root,
// exec root, socket and cgroup parent under a temporary directory.
type Daemon struct {
	Bin          string
	Dir          string
	DataRoot     string
	ExecRoot     string
	Sock         string
	CgroupParent string
	// Host is the DOCKER_HOST value for the daemon: "unix://<Sock>".
	Host string
	// Bridge and Subnet are the daemon's own default bridge and its
	// subnet, a random private /24 free of the host's routes, so that
	// daemons run side by side (--bridge and --bip).
	Bridge string
	Subnet netip.Prefix
	Args   []string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

// NewDaemon prepares a daemon (not started) whose files live under a new
// temporary directory; Cleanup removes everything it made.
func NewDaemon(bin string, extraArgs ...string) (*Daemon, error) {
	dir, err := os.MkdirTemp("", "berth-daemon-")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4)
	rand.Read(b)
	d := &Daemon{
		Bin:          bin,
		Dir:          dir,
		DataRoot:     filepath.Join(dir, "data"),
		ExecRoot:     filepath.Join(dir, "exec"),
		Sock:         filepath.Join(dir, "berth.sock"),
		CgroupParent: "berth-test-" + hex.EncodeToString(b),
		Bridge:       "bt" + hex.EncodeToString(b)[:7],
		Subnet:       FreeSubnet(),
		Args:         extraArgs,
	}
	d.Host = "unix://" + d.Sock
	return d, nil
}

// StartDaemon starts a new daemon for t and stops and cleans it up when
// the test ends.
func StartDaemon(t testing.TB, bin string, extraArgs ...string) *Daemon {
	t.Helper()
	d, err := NewDaemon(bin, extraArgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Cleanup)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// Start starts the daemon and waits until it answers on its socket.
func (d *Daemon) Start() error {
	logf, err := os.OpenFile(filepath.Join(d.Dir, "daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(d.Dir, "daemon.json")
	if _, err := os.Stat(cfgFile); err != nil {
		os.WriteFile(cfgFile, []byte("{}\n"), 0o644)
	}
	args := append([]string{"daemon", "--debug",
		"--data-root", d.DataRoot, "--exec-root", d.ExecRoot,
		"-H", d.Host, "--pidfile", filepath.Join(d.Dir, "berth.pid"),
		"--cgroup-parent", d.CgroupParent,
		"--bridge", d.Bridge, "--bip", netip.PrefixFrom(d.Subnet.Addr().Next(), d.Subnet.Bits()).String(),
		"--config-file", filepath.Join(d.Dir, "daemon.json")}, d.Args...)
	cmd := exec.Command(d.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	d.cmd, d.log = cmd, logf
	d.exited = make(chan struct{})
	go func() { cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("berth daemon exited: %s", d.Log())
		default:
		}
		if c, err := net.Dial("unix", d.Sock); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("berth daemon did not start listening: %s", d.Log())
}

// Log returns what the daemon wrote so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "daemon.log"))
	return string(b)
}

// Stop stops the daemon with SIGTERM and waits for it.
func (d *Daemon) Stop() {
	if d.cmd == nil {
		return
	}
	StopProcess(d.cmd.Process.Pid, d.exited)
	d.cmd = nil
	d.log.Close()
}

// Kill kills the daemon with SIGKILL, as a crash would.
func (d *Daemon) Kill() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(unix.SIGKILL)
	<-d.exited
	d.cmd = nil
	d.log.Close()
}

// MonitorPid returns the pid of the daemon's monitor, 0 if none runs.
func (d *Daemon) MonitorPid() int {
	b, err := os.ReadFile(filepath.Join(d.ExecRoot, "monitor", "monitor.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Cleanup stops the daemon, kills its containers and monitor, and removes
// its mounts, cgroups and files.
func (d *Daemon) Cleanup() {
	d.Stop()
	KillCgroup(d.CgroupParent)
	if pid := d.MonitorPid(); pid > 0 {
		// the monitor is ours: its command line names our directory
		for _, own := range OwnPids(d.Dir) {
			if own == pid {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	for _, pid := range OwnPids(d.Dir) {
		unix.Kill(pid, unix.SIGKILL)
	}
	time.Sleep(50 * time.Millisecond)
	UnmountUnder(d.Dir)
	RemoveCgroup(d.CgroupParent)
	d.RemoveNetworks()
	os.RemoveAll(d.Dir)
}

// RemoveNetworks removes the bridges of the daemon's networks and its
// nftables table: unlike the containers, these outlive a daemon that
// stops (as dockerd's docker0 does), and a test must not leave them.
func (d *Daemon) RemoveNetworks() {
	bridges := []string{d.Bridge}
	files, _ := filepath.Glob(filepath.Join(d.DataRoot, "network", "*.json"))
	for _, f := range files {
		var n struct{ Bridge string }
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &n) == nil && n.Bridge != "" && n.Bridge != d.Bridge {
			bridges = append(bridges, n.Bridge)
		}
	}
	for _, br := range bridges {
		if l, err := netlink.LinkByName(br); err == nil {
			netlink.LinkDel(l)
		}
	}
	if c, err := nftables.New(); err == nil {
		t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "berth-" + d.Bridge}
		c.AddTable(t)
		c.DelTable(t)
		c.Flush()
		c.CloseLasting()
	}
}

// FreeSubnet picks a random /24 in 10.128.0.0/9 that overlaps no route
// on the host (bridges of other test daemons included).
func FreeSubnet() netip.Prefix {
	routes, _ := netlink.RouteList(nil, unix.AF_INET)
	for {
		b := make([]byte, 2)
		rand.Read(b)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 | b[0], b[1], 0}), 24)
		free := true
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			if a, ok := netip.AddrFromSlice(r.Dst.IP.To4()); ok && ones > 0 && netip.PrefixFrom(a, ones).Masked().Overlaps(p) {
				free = false
			}
		}
		if free {
			return p
		}
	}
}
