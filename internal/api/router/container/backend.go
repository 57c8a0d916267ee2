// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package container holds the Engine API's container and exec routes.
package container

import (
	"context"
	"io"
	"time"

	"github.com/berth-project/berth/internal/api/httputils"
	containertypes "github.com/moby/moby/api/types/container"
)

// AttachConfig is an attach request, as the router decoded it.
type AttachConfig struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer // for a TTY everything goes to Stdout
	UseStdin       bool
	UseStdout      bool
	UseStderr      bool
	Logs, Stream   bool
	DetachKeys     string
	// Multiplexed tells whether Stdout and Stderr are frames of the
	// multiplexed stream (no TTY).
	Multiplexed bool
	// Reservation is what ContainerAttachInfo reserved, or nil.
	Reservation AttachReservation
}

// AttachReservation is an attach that ContainerAttachInfo reserved.
type AttachReservation interface {
	// Cancel gives the reservation up (the hijack failed).
	Cancel()
}

// LogsConfig is a logs request.
type LogsConfig struct {
	Stdout, Stderr bool
	Follow         bool
	Timestamps     bool
	Tail           int // -1: all
	Since, Until   time.Time
	Details        bool
}

// ExecStartConfig is an exec start request.
type ExecStartConfig struct {
	Detach bool
	Tty    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Backend is what the container routes need from the daemon.
type Backend interface {
	ContainerCreate(ctx context.Context, name string, req *containertypes.CreateRequest) (containertypes.CreateResponse, error)
	ContainerStart(ctx context.Context, ref string) error
	ContainerStop(ctx context.Context, ref string, signal string, timeout *int) error
	ContainerRestart(ctx context.Context, ref string, signal string, timeout *int) error
	ContainerKill(ctx context.Context, ref, signal string) error
	ContainerWait(ctx context.Context, ref string, condition containertypes.WaitCondition) (<-chan containertypes.WaitResponse, error)
	ContainerRemove(ctx context.Context, ref string, force, volumes bool) error
	ContainerList(ctx context.Context, all bool, limit int, size bool, f httputils.Filters) ([]containertypes.Summary, error)
	ContainerInspect(ctx context.Context, ref string, size bool) (*containertypes.InspectResponse, error)
	ContainerRename(ctx context.Context, ref, newName string) error
	ContainerUpdate(ctx context.Context, ref string, u *containertypes.UpdateConfig) (containertypes.UpdateResponse, error)
	ContainerPause(ctx context.Context, ref string) error
	ContainerUnpause(ctx context.Context, ref string) error
	ContainerTop(ctx context.Context, ref, psArgs string) (containertypes.TopResponse, error)
	ContainerStats(ctx context.Context, ref string, stream bool, w io.Writer) error
	ContainerChanges(ctx context.Context, ref string) ([]containertypes.FilesystemChange, error)
	ContainerExport(ctx context.Context, ref string, w io.Writer) error
	ContainerAttach(ctx context.Context, ref string, cfg *AttachConfig) error
	// ContainerAttachInfo tells whether the container has a TTY, before
	// the connection is hijacked. With stream set and a container that is
	// not running, it also reserves the attach: a client may start the
	// container as soon as it has the hijack's response, and the start
	// must then wait for this attach rather than run the process without
	// it. The reservation goes to ContainerAttach in AttachConfig, or is
	// cancelled.
	ContainerAttachInfo(ctx context.Context, ref string, stream bool) (tty bool, r AttachReservation, err error)
	ContainerResize(ctx context.Context, ref string, height, width uint16) error
	ContainerLogs(ctx context.Context, ref string, cfg *LogsConfig, w io.Writer) (tty bool, err error)
	ContainerLogsCheck(ctx context.Context, ref string) (tty bool, err error)
	ContainerPrune(ctx context.Context, f httputils.Filters) (containertypes.PruneReport, error)

	ArchiveBackend

	ExecCreate(ctx context.Context, ref string, req *containertypes.ExecCreateRequest) (string, error)
	ExecStart(ctx context.Context, id string, cfg *ExecStartConfig) error
	ExecInfo(ctx context.Context, id string) (tty bool, err error)
	ExecResize(ctx context.Context, id string, height, width uint16) error
	ExecInspect(ctx context.Context, id string) (*containertypes.ExecInspectResponse, error)
}
