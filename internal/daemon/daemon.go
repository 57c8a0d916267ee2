// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package daemon is berth's composition root: it opens the stores, starts
// (or reconnects to) the container monitor, re-adopts the containers that
// kept running while it was away, and serves the Engine API.
//
// # Files
//
//	<data-root>/image/            image store (package image)
//	<data-root>/containers/<id>/  container config, logs, hosts files (package container),
//	                              mounts.json: its resolved mount points (volume_mounts.go)
//	<data-root>/volumes/          volumes of the local driver (package volume)
//	<exec-root>/berth.pid         pid file (--pidfile)
//	<exec-root>/runtime/          runtime state (package runtime)
//	<exec-root>/monitor/          the monitor's socket and exit records (package monitor)
//	<exec-root>/containers/<id>/  OCI bundle: config.json and the mounted rootfs
package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"debug/elf"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/api/router/container"
	"github.com/berth-project/berth/internal/api/router/network"
	"github.com/berth-project/berth/internal/api/router/swarm"
	"github.com/berth-project/berth/internal/api/router/system"
	"github.com/berth-project/berth/internal/api/router/volume"
	"github.com/berth-project/berth/internal/api/server"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/daemon/config"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/fsutil"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	bnet "github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/version"
	vol "github.com/berth-project/berth/internal/volume"
)

// Version is berth's version.
var Version = version.Version

// Daemon is a running berth daemon.
type Daemon struct {
	// id is the engine ID (engineID), read or made once.
	idOnce  sync.Once
	id      string
	cfg     *config.Config
	log     *slog.Logger
	images  *image.Store
	rt      *runtime.Runtime
	mon     *monitor.Client
	store   *ctr.Store
	vols    *vol.Store
	mnts    *mountTable
	events  *events.Bus
	net     *bnet.Manager
	started time.Time
	// initPath is the berth binary, bind-mounted for `run --init`.
	initPath string

	mu      sync.Mutex
	waiters map[string][]*waiter
	execs   map[string]*execConfig
	pending map[string][]*pendingAttach
	// layerPreps holds the prepares of writable layers under way: ID →
	// *layerPrep (layer.go).
	layerPreps sync.Map

	server    *server.Server
	listeners []net.Listener
	stop      chan struct{}
}

// New opens the daemon's stores and restores its containers. It does not
// serve yet; Serve does.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot, filepath.Join(cfg.DataRoot, "containers"), filepath.Join(cfg.ExecRoot, "containers"), filepath.Join(cfg.ExecRoot, "runtime")} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, err
		}
	}
	// Each holds a directory per container: spread them over the file
	// system's block groups (fsutil.MarkTopDir).
	for _, dir := range []string{filepath.Join(cfg.DataRoot, "containers"), filepath.Join(cfg.ExecRoot, "containers"), filepath.Join(cfg.ExecRoot, "runtime")} {
		if err := fsutil.MarkTopDir(dir); err != nil {
			log.Debug("mark top directory", "dir", dir, "err", err)
		}
	}
	if err := writePidFile(cfg.Pidfile); err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg:     cfg,
		log:     log,
		rt:      runtime.New(filepath.Join(cfg.ExecRoot, "runtime"), log.With("component", "runtime")),
		store:   ctr.NewStore(),
		events:  events.New(),
		started: time.Now(),
		waiters: map[string][]*waiter{},
		execs:   map[string]*execConfig{},
		pending: map[string][]*pendingAttach{},
		stop:    make(chan struct{}),
	}
	images, err := image.New(ctx, filepath.Join(cfg.DataRoot, "image"))
	if err != nil {
		os.Remove(cfg.Pidfile)
		return nil, fmt.Errorf("open image store: %w", err)
	}
	d.images = images
	if err := d.initVolumes(); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.openNetworks(); err != nil {
		d.Close()
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		d.Close()
		return nil, err
	}
	if isStatic(exe) {
		// bind-mounted into containers for --init: it must run there
		d.initPath = exe
	}
	d.mon, err = monitor.Connect(ctx, filepath.Join(cfg.ExecRoot, "monitor"), exe)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("connect to the monitor: %w", err)
	}
	if err := d.restore(ctx); err != nil {
		d.Close()
		return nil, err
	}
	go d.watchExits()
	return d, nil
}

func writePidFile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(string(b)); err == nil && pid != os.Getpid() {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				if exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); filepath.Base(exe) == filepath.Base(mustExe()) {
					return fmt.Errorf("pid file found, ensure berth is not running or delete %s", path)
				}
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644)
}

func mustExe() string {
	exe, _ := os.Executable()
	return exe
}

// Serve listens on the configured hosts and serves the API until ctx is
// done, then shuts down, leaving the containers running.
func (d *Daemon) Serve(ctx context.Context) error {
	var tlsConfig *tls.Config
	if d.cfg.TLS || d.cfg.TLSVerify {
		var err error
		if tlsConfig, err = loadTLS(d.cfg); err != nil {
			return err
		}
	}
	d.server = server.New(server.Config{Version: Version, Log: d.log.With("component", "api")},
		system.New(d), container.New(d), newImageRouter(d), network.New(d), volume.New(d), newBuildRouter(d), swarm.New())
	errc := make(chan error, len(d.cfg.Hosts))
	for _, h := range d.cfg.Hosts {
		ln, err := server.Listen(h, tlsConfig)
		if err != nil {
			d.closeListeners()
			return fmt.Errorf("listen on %s: %w", h, err)
		}
		d.listeners = append(d.listeners, ln)
	}
	for _, ln := range d.listeners {
		go func() { errc <- d.server.Serve(ln) }()
	}
	d.log.Info("API listening", "hosts", d.cfg.Hosts, "data-root", d.cfg.DataRoot)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			d.log.Error("API server failed", "err", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.server.Shutdown(sctx)
	d.closeListeners()
	return nil
}

func (d *Daemon) closeListeners() {
	for _, ln := range d.listeners {
		ln.Close()
	}
}

func loadTLS(cfg *config.Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSVerify {
		pem, err := os.ReadFile(cfg.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("load TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("no CA certificate in " + cfg.TLSCACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Close releases the stores. Containers keep running under the monitor.
func (d *Daemon) Close() error {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	if d.mon != nil {
		d.mon.Close()
	}
	if d.images != nil {
		d.images.Close()
	}
	d.closeNetworks()
	removeCgroupParent(d.cfg.CgroupParent)
	os.Remove(d.cfg.Pidfile)
	return nil
}

// removeCgroupParent removes the containers' parent cgroup from every
// hierarchy where it is empty: rmdir(2) refuses one that still holds a
// container's cgroup, so containers left running (live restore) keep
// theirs, and a daemon that stops with none leaves no cgroup behind.
func removeCgroupParent(parent string) {
	if parent == "" || path.Clean("/"+parent) == "/" {
		return
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		// mount ID, parent ID, major:minor, root, mount point, ... - type ...
		f := strings.Fields(l)
		i := slices.Index(f, "-")
		if i < 5 || i+1 >= len(f) || (f[i+1] != "cgroup" && f[i+1] != "cgroup2") {
			continue
		}
		unix.Rmdir(filepath.Join(f[4], parent))
	}
}

// isStatic reports whether the ELF binary at path has no program
// interpreter (a dynamic loader), so that it runs in any container.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
