// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	cliclient "github.com/berth-project/berth/internal/cli/client"
)

// TestCLIClient drives the berth CLI's own Engine API client against a
// daemon, beside the moby client on the same calls: the same errors (text
// and class), the negotiated or pinned version, and the streams (attach,
// wait, logs, events).
func TestCLIClient(t *testing.T) {
	d, mc := startDaemon(t)
	importImage(t, mc, busyboxTar(t), "busybox:latest", client.ImageImportOptions{})
	c, err := cliclient.New(cliclient.WithHost(d.Host), cliclient.WithUserAgent("berth-cli"), cliclient.WithAPIVersionNegotiation())
	assert.NilError(t, err)
	defer c.Close()
	ctx := ctx(t)

	// Errors: the moby client's text and class for the same call.
	_, err = c.ContainerInspect(ctx, "nope", cliclient.ContainerInspectOptions{})
	_, merr := mc.ContainerInspect(ctx, "nope", client.ContainerInspectOptions{})
	assert.Check(t, cerrdefs.IsNotFound(err), "%v", err)
	assert.Check(t, is.Equal(err.Error(), merr.Error()))
	assert.Check(t, is.Equal(c.ClientVersion(), mc.ClientVersion()))
	_, err = c.ContainerStart(ctx, " ", cliclient.ContainerStartOptions{})
	_, merr = mc.ContainerStart(ctx, " ", client.ContainerStartOptions{})
	assert.Check(t, cerrdefs.IsInvalidArgument(err), "%v", err)
	assert.Check(t, is.Equal(err.Error(), merr.Error()))

	cfg := &containertypes.Config{Image: "busybox", Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}
	cr, err := c.ContainerCreate(ctx, cliclient.ContainerCreateOptions{Config: cfg, Name: "cliclient",
		HostConfig: &containertypes.HostConfig{NetworkMode: "none", CapDrop: []string{"net_raw", "NET_RAW", "chown"}}})
	assert.NilError(t, err)
	_, err = c.ContainerCreate(ctx, cliclient.ContainerCreateOptions{Config: cfg, Name: "cliclient"})
	_, merr = mc.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, Name: "cliclient"})
	assert.Check(t, cerrdefs.IsConflict(err), "%v", err)
	assert.Check(t, is.Equal(err.Error(), merr.Error()))
	_, err = c.ContainerCreate(ctx, cliclient.ContainerCreateOptions{Config: cfg,
		HostConfig: &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "sometimes"}}})
	_, merr = mc.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg,
		HostConfig: &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "sometimes"}}})
	assert.Check(t, cerrdefs.IsInvalidArgument(err), "%v", err)
	assert.Check(t, is.Equal(err.Error(), merr.Error()))
	ins, err := c.ContainerInspect(ctx, cr.ID, cliclient.ContainerInspectOptions{})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual([]string(ins.Container.HostConfig.CapDrop), []string{"CAP_CHOWN", "CAP_NET_RAW"}))
	assert.Check(t, bytes.Contains(ins.Raw, []byte(`"Id":"`+cr.ID+`"`)))

	// Attach before start, wait for the exit, then the logs.
	at, err := c.ContainerAttach(ctx, cr.ID, cliclient.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	assert.NilError(t, err)
	defer at.Close()
	wait := c.ContainerWait(ctx, cr.ID, cliclient.ContainerWaitOptions{Condition: containertypes.WaitConditionNextExit})
	_, err = c.ContainerStart(ctx, cr.ID, cliclient.ContainerStartOptions{})
	assert.NilError(t, err)
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stderr, at.Reader)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(stdout.String(), "out\n"))
	assert.Check(t, is.Equal(stderr.String(), "err\n"))
	select {
	case r := <-wait.Result:
		assert.Check(t, is.Equal(r.StatusCode, int64(3)))
	case err := <-wait.Error:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("no exit")
	}
	logs, err := c.ContainerLogs(ctx, cr.ID, cliclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Since: "10m"})
	assert.NilError(t, err)
	stdout.Reset()
	stderr.Reset()
	_, err = stdcopy.StdCopy(&stdout, &stderr, logs)
	logs.Close()
	assert.NilError(t, err)
	assert.Check(t, is.Equal(stdout.String()+stderr.String(), "out\nerr\n"))

	// Exec: attached, then its exit code.
	run, err := c.ContainerCreate(ctx, cliclient.ContainerCreateOptions{
		Config:     &containertypes.Config{Image: "busybox", Cmd: []string{"sleep", "60"}},
		HostConfig: &containertypes.HostConfig{NetworkMode: "none"}})
	assert.NilError(t, err)
	_, err = c.ContainerStart(ctx, run.ID, cliclient.ContainerStartOptions{})
	assert.NilError(t, err)
	ex, err := c.ExecCreate(ctx, run.ID, cliclient.ExecCreateOptions{Cmd: []string{"sh", "-c", "echo exec; exit 5"}, AttachStdout: true, AttachStderr: true})
	assert.NilError(t, err)
	ea, err := c.ExecAttach(ctx, ex.ID, cliclient.ExecAttachOptions{})
	assert.NilError(t, err)
	stdout.Reset()
	_, err = stdcopy.StdCopy(&stdout, io.Discard, ea.Reader)
	ea.Close()
	assert.NilError(t, err)
	assert.Check(t, is.Equal(stdout.String(), "exec\n"))
	ei, err := c.ExecInspect(ctx, ex.ID, cliclient.ExecInspectOptions{})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(ei.ExitCode, 5))
	_, err = c.ContainerRemove(ctx, run.ID, cliclient.ContainerRemoveOptions{Force: true})
	assert.NilError(t, err)

	// Prune: the exited container, an unused named volume (with All).
	_, err = c.VolumeCreate(ctx, cliclient.VolumeCreateOptions{Name: "cliclient-vol"})
	assert.NilError(t, err)
	cp, err := c.ContainerPrune(ctx, cliclient.ContainerPruneOptions{Filters: cliclient.Filters{}.Add("label", "nothing=here")})
	assert.NilError(t, err)
	assert.Check(t, is.Len(cp.Report.ContainersDeleted, 0))
	vp, err := c.VolumePrune(ctx, cliclient.VolumePruneOptions{All: true})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(vp.Report.VolumesDeleted, []string{"cliclient-vol"}))
	_, err = c.NetworkPrune(ctx, cliclient.NetworkPruneOptions{})
	assert.NilError(t, err)

	// Events up to now replay this test's.
	ev := c.Events(ctx, cliclient.EventsListOptions{Since: "10m", Until: "-2s", // until a moment from now
		Filters: cliclient.Filters{}.Add("container", cr.ID).Add("event", "start")})
	var got []string
	for done := false; !done; {
		select {
		case m := <-ev.Messages:
			got = append(got, string(m.Action))
		case err := <-ev.Err:
			assert.Check(t, err == io.EOF, "%v", err)
			done = true
		case <-time.After(20 * time.Second):
			t.Fatal("events did not end at until")
		}
	}
	assert.Check(t, is.DeepEqual(got, []string{"start"}))

	// A pinned version is the one requested.
	pinned, err := cliclient.New(cliclient.WithHost(d.Host), cliclient.WithAPIVersion("1.44"))
	assert.NilError(t, err)
	defer pinned.Close()
	l, err := pinned.ContainerList(ctx, cliclient.ContainerListOptions{All: true, Filters: cliclient.Filters{}.Add("name", "cliclient")})
	assert.NilError(t, err)
	assert.Check(t, is.Len(l.Items, 1))
	assert.Check(t, is.Equal(pinned.ClientVersion(), "1.44"))
	cp, err = c.ContainerPrune(ctx, cliclient.ContainerPruneOptions{})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(cp.Report.ContainersDeleted, []string{cr.ID}))

	// No daemon at the address.
	gone, err := cliclient.New(cliclient.WithHost("unix://"+filepath.Join(t.TempDir(), "none.sock")), cliclient.WithAPIVersionNegotiation())
	assert.NilError(t, err)
	defer gone.Close()
	_, err = gone.ContainerList(context.Background(), cliclient.ContainerListOptions{})
	assert.Check(t, cliclient.IsErrConnectionFailed(err), "%v", err)
	assert.Check(t, strings.Contains(err.Error(), "failed to connect to the docker API at unix://"), "%v", err)
}

// TestCLIClientTimestamp checks the forms --since and --until take.
func TestCLIClientTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.Local)
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	for in, want := range map[string]string{
		"":                     "",
		"10m":                  unix(now.Add(-10 * time.Minute)),
		"1700000000":           "1700000000",
		"1700000000.5":         "1700000000.5",
		"2026-11-24":           unix(time.Date(2026, 11, 24, 0, 0, 0, 0, time.Local)) + ".000000000",
		"2026-11-24T03:00:00Z": "1795489200.000000000",
	} {
		got, err := cliclient.Timestamp(in, now)
		assert.Check(t, err, "%q", in)
		assert.Check(t, is.Equal(got, want), "%q", in)
	}
	_, err := cliclient.Timestamp("yesterday", now)
	assert.Check(t, is.ErrorContains(err, "yesterday"))
}
