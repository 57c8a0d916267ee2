// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/net/websocket"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// dialAttachWS opens GET /containers/{id}/attach/ws on the daemon's
// socket with query.
func dialAttachWS(t *testing.T, host, version, id, query string) (*websocket.Conn, error) {
	t.Helper()
	cfg, err := websocket.NewConfig("ws://localhost/v"+version+"/containers/"+id+"/attach/ws?"+query, "http://localhost")
	assert.NilError(t, err)
	conn, err := net.Dial("unix", strings.TrimPrefix(host, "unix://"))
	assert.NilError(t, err)
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		conn.Close()
	}
	return ws, err
}

// readUntil reads frames from ws until what it read holds each of wants
// (stdout and stderr are two pipes: their order may change).
func readUntil(t *testing.T, ws *websocket.Conn, wants ...string) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !containsAll(string(got), wants) {
		n, err := ws.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q so far, waiting for %q: %v", got, wants, err)
		}
	}
	return string(got)
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// frame reads one frame: its type and payload.
func frame(t *testing.T, ws *websocket.Conn) (byte, string) {
	t.Helper()
	var f struct {
		typ  byte
		data string
	}
	codec := websocket.Codec{Unmarshal: func(data []byte, typ byte, v any) error {
		f.typ, f.data = typ, string(data)
		return nil
	}}
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	assert.NilError(t, codec.Receive(ws, nil))
	return f.typ, f.data
}

// TestAttachWebSocket attaches to a container over a WebSocket (GET
// /containers/{id}/attach/ws): input from the client's frames, stdout and
// stderr raw on the one connection, binary frames from API 1.28, text
// frames before; logs=1 replays what was written before the attach; an
// unknown container is a 404 before any upgrade.
func TestAttachWebSocket(t *testing.T) {
	d, c := startDaemon(t)
	importImage(t, c, busyboxTar(t), "busybox:latest", client.ImageImportOptions{})
	cr, err := c.ContainerCreate(ctx(t), client.ContainerCreateOptions{
		Config: &containertypes.Config{Image: "busybox", Cmd: []string{"sh", "-c", "echo ready; read x; echo got $x; echo oops >&2; read y; echo done $y"},
			OpenStdin: true, AttachStdin: true, AttachStdout: true, AttachStderr: true},
		HostConfig: &containertypes.HostConfig{NetworkMode: "none"},
	})
	assert.NilError(t, err)
	_, err = c.ContainerStart(ctx(t), cr.ID, client.ContainerStartOptions{})
	assert.NilError(t, err)
	// "ready" is in the log before the attach, so that logs=1 must replay
	// it (one written meanwhile could fall between the two)
	for deadline := time.Now().Add(20 * time.Second); ; {
		rc, err := c.ContainerLogs(ctx(t), cr.ID, client.ContainerLogsOptions{ShowStdout: true})
		assert.NilError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(string(b), "ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container never wrote ready")
		}
		time.Sleep(10 * time.Millisecond)
	}

	ws, err := dialAttachWS(t, d.Host, "1.51", cr.ID, "logs=1&stream=1&stdin=1&stdout=1&stderr=1")
	assert.NilError(t, err)
	defer ws.Close()
	// written before the attach (logs=1), in a binary frame
	typ, data := frame(t, ws)
	assert.Check(t, is.Equal(typ, byte(websocket.BinaryFrame)))
	assert.Check(t, is.Equal(data, "ready\n"))
	_, err = ws.Write([]byte("hello\n"))
	assert.NilError(t, err)
	out := readUntil(t, ws, "got hello\n", "oops\n") // raw: no stream headers
	assert.Check(t, is.Len(out, len("got hello\noops\n")), "%q", out)
	_, err = ws.Write([]byte("bye\n"))
	assert.NilError(t, err)
	readUntil(t, ws, "done bye\n")
	assert.Check(t, is.Equal(waitExit(t, c, cr.ID), int64(0)))

	// an older client gets text frames
	cr2, err := c.ContainerCreate(ctx(t), client.ContainerCreateOptions{
		Config:     &containertypes.Config{Image: "busybox", Cmd: []string{"sh", "-c", "sleep 0.5; echo text"}},
		HostConfig: &containertypes.HostConfig{NetworkMode: "none"},
	})
	assert.NilError(t, err)
	ws2, err := dialAttachWS(t, d.Host, "1.27", cr2.ID, "stream=1&stdout=1")
	assert.NilError(t, err)
	defer ws2.Close()
	_, err = c.ContainerStart(ctx(t), cr2.ID, client.ContainerStartOptions{})
	assert.NilError(t, err)
	typ, data = frame(t, ws2)
	assert.Check(t, is.Equal(typ, byte(websocket.TextFrame)))
	assert.Check(t, is.Equal(data, "text\n"))

	// nothing to attach to: an HTTP error, no upgrade
	_, err = dialAttachWS(t, d.Host, "1.51", "nosuchcontainer", "stream=1&stdout=1")
	assert.Check(t, is.ErrorContains(err, "bad status"))
}
