// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package container is the daemon's model of a container: its
// configuration as the client gave it, its state, and where its files are.
//
// # On disk
//
// Each container has a directory <data-root>/containers/<id>/ holding
// config.v2.json (this package's Container, JSON, written by temp file and
// rename on every change), the json-file log <id>-json.log (and its rotated
// files), and hostname, hosts and resolv.conf, which are bind-mounted into
// the container. Version 1 of the format; a later version adds fields and
// reads old files as they are.
package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Status words, Docker's.
const (
	Created    = "created"
	Running    = "running"
	Paused     = "paused"
	Restarting = "restarting"
	Removing   = "removing"
	Exited     = "exited"
	Dead       = "dead"
)

// State is a container's run state.
type State struct {
	Status     string
	Pid        int
	ExitCode   int
	Error      string `json:",omitempty"`
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
	// Health is nil without a health check.
	Health *containertypes.Health `json:",omitempty"`
}

// Container is one container. Its fields are guarded by Mu; readers that
// only need a consistent copy call Snapshot.
type Container struct {
	Mu sync.Mutex `json:"-"`

	ID      string
	Name    string // with the leading "/", as Docker keeps it
	Created time.Time
	// Path and Args are the command the container runs (entrypoint + cmd).
	Path string
	Args []string
	// Image is the image ID; ImageRef the name the client asked for.
	Image    string
	ImageRef string

	Config     *containertypes.Config
	HostConfig *containertypes.HostConfig
	State      State

	RestartCount int
	// ManuallyStopped is set by stop and kill, so "unless-stopped" and
	// "always" do not restart it, until the next start.
	ManuallyStopped bool
	// Links are the containers it links to (--link on the default
	// bridge), by ID, so that renames keep them as in Docker.
	Links []Link `json:",omitempty"`
	// HasBeenStarted tells apart a created container from an exited one.
	HasBeenStarted bool
	// CleanedUp is set once what a run leaves (runtime state, cgroup,
	// rootfs mount) is gone; a daemon that starts does not trust it.
	CleanedUp bool `json:"-"`
	// Restarting is set while restart stops the container: that exit
	// does not remove an --rm container (as with Docker, restart keeps
	// it).
	RestartInProgress bool `json:"-"`
	// Spec is the OCI spec of the current run, kept for exec; nil after a
	// daemon restart (the runtime has it on disk).
	Spec *specs.Spec `json:"-"`

	Dir            string `json:"-"`
	LogPath        string
	HostnamePath   string
	HostsPath      string
	ResolvConfPath string
	// Rootfs is where the container's root filesystem is mounted while
	// it runs.
	Rootfs string
}

// New returns a container with its files under dir.
func New(id, name, dir string) *Container {
	return &Container{
		ID:             id,
		Name:           "/" + name,
		Created:        time.Now().UTC(),
		Dir:            dir,
		LogPath:        filepath.Join(dir, id+"-json.log"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		HostsPath:      filepath.Join(dir, "hosts"),
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		State:          State{Status: Created},
	}
}

// Save writes the container's config.v2.json, atomically. The caller
// holds Mu.
func (c *Container) Save() error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.Dir, ".config.v2.json.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.Dir, "config.v2.json"))
}

// Link is one --link: the linked container's ID and the alias.
type Link struct {
	ID, Alias string
}

// Load reads the container saved in dir.
func Load(dir string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return nil, err
	}
	c := &Container{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, err
	}
	c.Dir = dir
	return c, nil
}

// IsRunning reports whether the container has a live process (running or
// paused). The caller holds Mu.
func (c *Container) IsRunning() bool {
	return c.State.Status == Running || c.State.Status == Paused || c.State.Status == Restarting && c.State.Pid != 0
}

// Short is the 12-character ID docker prints.
func (c *Container) Short() string { return c.ID[:12] }

// ShortName is the name without its leading "/".
func (c *Container) ShortName() string { return c.Name[1:] }
