// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// messages reads a JSON message stream to its end; a message with an
// error ends it with that error.
func messages(t *testing.T, r io.ReadCloser) ([]jsonstream.Message, error) {
	t.Helper()
	defer r.Close()
	var out []jsonstream.Message
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			t.Fatalf("decode stream: %v", err)
		}
		if m.Error != nil {
			return out, m.Error
		}
		out = append(out, m)
	}
}

func statuses(ms []jsonstream.Message) []string {
	var s []string
	for _, m := range ms {
		if m.Status != "" {
			s = append(s, m.Status)
		}
	}
	return s
}

func hasStatus(ms []jsonstream.Message, prefix string) bool {
	return slices.ContainsFunc(statuses(ms), func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// importImage imports a root filesystem tar as ref and returns the ID.
func importImage(t *testing.T, c *client.Client, tarball []byte, ref string, opts client.ImageImportOptions) string {
	t.Helper()
	r, err := c.ImageImport(ctx(t), client.ImageImportSource{Source: bytes.NewReader(tarball), SourceName: "-"}, ref, opts)
	assert.NilError(t, err)
	ms, err := messages(t, r)
	assert.NilError(t, err)
	assert.Assert(t, len(ms) > 0)
	id := ms[len(ms)-1].Status
	assert.Assert(t, strings.HasPrefix(id, "sha256:"), "import answered %v", ms)
	return id
}

func pull(t *testing.T, c *client.Client, ref string, auth string) ([]jsonstream.Message, error) {
	t.Helper()
	r, err := c.ImagePull(ctx(t), ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return nil, err
	}
	return messages(t, r)
}

func push(t *testing.T, c *client.Client, ref string, auth string) ([]jsonstream.Message, error) {
	t.Helper()
	r, err := c.ImagePush(ctx(t), ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return nil, err
	}
	return messages(t, r)
}

func inspect(t *testing.T, c *client.Client, ref string) imagetypes.InspectResponse {
	t.Helper()
	res, err := c.ImageInspect(ctx(t), ref)
	assert.NilError(t, err)
	return res.InspectResponse
}

func list(t *testing.T, c *client.Client, f client.Filters) []imagetypes.Summary {
	t.Helper()
	res, err := c.ImageList(ctx(t), client.ImageListOptions{Filters: f})
	assert.NilError(t, err)
	return res.Items
}

func ids(s []imagetypes.Summary) []string {
	var out []string
	for _, i := range s {
		out = append(out, i.ID)
	}
	return out
}

func encodeAuth(t *testing.T, a registry.AuthConfig) string {
	b, err := json.Marshal(a)
	assert.NilError(t, err)
	return base64.URLEncoding.EncodeToString(b)
}

// TestImageLifecycle moves busybox through the whole image API: import,
// tag, push, remove, pull by tag and digest, list, inspect, history,
// save and load, prune.
func TestImageLifecycle(t *testing.T) {
	_, c := startDaemon(t)
	reg := testutil.StartRegistry(t)
	bb := busyboxTar(t)

	id := importImage(t, c, bb, "busybox:latest", client.ImageImportOptions{
		Message: "imported",
		Changes: []string{`CMD ["sh"]`, "ENV FOO=bar", "LABEL org.berth.test=1"},
	})
	img := inspect(t, c, "busybox")
	assert.Equal(t, img.ID, id)
	assert.DeepEqual(t, img.RepoTags, []string{"busybox:latest"})
	assert.DeepEqual(t, img.Config.Cmd, []string{"sh"})
	assert.Check(t, is.Contains(img.Config.Env, "FOO=bar"))
	assert.Equal(t, img.Config.Labels["org.berth.test"], "1")
	assert.Equal(t, img.Comment, "imported")
	assert.Equal(t, len(img.RootFS.Layers), 1)
	assert.Assert(t, img.Size > 0)

	hist, err := c.ImageHistory(ctx(t), "busybox")
	assert.NilError(t, err)
	assert.Equal(t, len(hist.Items), 1)
	assert.Equal(t, hist.Items[0].ID, id)
	assert.Equal(t, hist.Items[0].Comment, "imported")
	assert.DeepEqual(t, hist.Items[0].Tags, []string{"busybox:latest"})
	assert.Assert(t, hist.Items[0].Size > 0)

	_, err = c.ImageInspect(ctx(t), "nope")
	assert.Check(t, cerrdefs.IsNotFound(err), "%v", err)

	// Tag and push.
	remote := reg + "/busybox:1"
	_, err = c.ImageTag(ctx(t), client.ImageTagOptions{Source: "busybox", Target: remote})
	assert.NilError(t, err)
	assert.Equal(t, inspect(t, c, remote).ID, id)

	ms, err := push(t, c, remote, "")
	assert.NilError(t, err)
	st := statuses(ms)
	assert.Equal(t, st[0], "The push refers to repository ["+reg+"/busybox]")
	assert.Check(t, slices.Contains(st, "Pushed"), "%v", st)
	last := ms[len(ms)-1]
	assert.Assert(t, last.Aux != nil, "%v", ms)
	var aux struct {
		Tag    string
		Digest string
		Size   int64
	}
	assert.NilError(t, json.Unmarshal(*last.Aux, &aux))
	assert.Equal(t, aux.Tag, "1")
	assert.Assert(t, strings.HasPrefix(aux.Digest, "sha256:"))
	assert.Check(t, slices.Contains(st, "1: digest: "+aux.Digest+" size: "+itoa(aux.Size)), "%v", st)
	assert.Check(t, is.Contains(inspect(t, c, "busybox").RepoDigests, reg+"/busybox@"+aux.Digest))

	ms, err = push(t, c, remote, "")
	assert.NilError(t, err)
	assert.Check(t, slices.Contains(statuses(ms), "Layer already exists"), "%v", statuses(ms))

	_, err = push(t, c, reg+"/nothere:1", "")
	assert.Check(t, cerrdefs.IsNotFound(err), "%v", err)

	// An unknown tag is a 404 before anything is streamed.
	_, err = pull(t, c, reg+"/nope:latest", "")
	assert.Check(t, cerrdefs.IsNotFound(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "manifest for "+reg+"/nope:latest not found: manifest unknown: manifest unknown"))

	// Removing the image: by ID it has names in two repositories, so it
	// needs force.
	_, err = c.ImageRemove(ctx(t), id, client.ImageRemoveOptions{})
	assert.Check(t, cerrdefs.IsConflict(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "image is referenced in multiple repositories"))

	rm, err := c.ImageRemove(ctx(t), remote, client.ImageRemoveOptions{})
	assert.NilError(t, err)
	assert.DeepEqual(t, rm.Items, []imagetypes.DeleteResponse{{Untagged: remote}, {Untagged: reg + "/busybox@" + aux.Digest}})

	// Save before removing it all.
	var saved bytes.Buffer
	sr, err := c.ImageSave(ctx(t), []string{"busybox:latest"})
	assert.NilError(t, err)
	_, err = io.Copy(&saved, sr)
	sr.Close()
	assert.NilError(t, err)
	assert.Assert(t, saved.Len() > 1024)
	_, err = c.ImageSave(ctx(t), []string{"nope"})
	assert.Check(t, cerrdefs.IsNotFound(err), "%v", err)

	rm, err = c.ImageRemove(ctx(t), "busybox", client.ImageRemoveOptions{})
	assert.NilError(t, err)
	assert.DeepEqual(t, rm.Items, []imagetypes.DeleteResponse{{Untagged: "busybox:latest"}, {Deleted: id}})
	assert.Equal(t, len(list(t, c, nil)), 0)

	// Pull back by tag: everything is downloaded, same ID.
	ms, err = pull(t, c, remote, "")
	assert.NilError(t, err)
	st = statuses(ms)
	assert.Equal(t, st[0], "Pulling from busybox")
	assert.Equal(t, ms[0].ID, "1")
	for _, want := range []string{"Pulling fs layer", "Download complete", "Pull complete", "Digest: " + aux.Digest, "Status: Downloaded newer image for " + remote} {
		assert.Check(t, slices.Contains(st, want), "missing %q in %v", want, st)
	}
	assert.Equal(t, inspect(t, c, remote).ID, id)

	ms, err = pull(t, c, remote, "")
	assert.NilError(t, err)
	assert.Check(t, slices.Contains(statuses(ms), "Status: Image is up to date for "+remote), "%v", statuses(ms))

	byDigest := reg + "/busybox@" + aux.Digest
	_, err = pull(t, c, byDigest, "")
	assert.NilError(t, err)
	assert.Equal(t, inspect(t, c, byDigest).ID, id)

	// Load what was saved: busybox:latest comes back with the same ID.
	lr, err := c.ImageLoad(ctx(t), bytes.NewReader(saved.Bytes()))
	assert.NilError(t, err)
	ms, err = messages(t, lr)
	assert.NilError(t, err)
	assert.DeepEqual(t, ms, []jsonstream.Message{{Stream: "Loaded image: busybox:latest\n"}})
	assert.Equal(t, inspect(t, c, "busybox:latest").ID, id)

	// A second image, later, and a dangling one.
	time.Sleep(1100 * time.Millisecond) // Created has a one-second resolution
	other := importImage(t, c, fileTar(t, "hello.txt", "hello"), "other:1", client.ImageImportOptions{})
	dangling := importImage(t, c, fileTar(t, "x", "dangling"), "", client.ImageImportOptions{})

	assert.DeepEqual(t, ids(list(t, c, nil)), []string{dangling, other, id})
	assert.DeepEqual(t, ids(list(t, c, make(client.Filters).Add("reference", "busybox"))), []string{id})
	assert.DeepEqual(t, ids(list(t, c, make(client.Filters).Add("reference", "oth*"))), []string{other})
	assert.DeepEqual(t, ids(list(t, c, make(client.Filters).Add("label", "org.berth.test=1"))), []string{id})
	assert.DeepEqual(t, ids(list(t, c, make(client.Filters).Add("dangling", "true"))), []string{dangling})
	assert.DeepEqual(t, ids(list(t, c, make(client.Filters).Add("since", "busybox").Add("dangling", "false"))), []string{other})
	assert.DeepEqual(t, ids(list(t, c, make(client.Filters).Add("before", "other:1"))), []string{id})
	_, err = c.ImageList(ctx(t), client.ImageListOptions{Filters: make(client.Filters).Add("dangling", "maybe")})
	assert.Check(t, cerrdefs.IsInvalidArgument(err), "%v", err)
	// an image found by a reference shows only the names that matched,
	// as Docker lists it
	for _, s := range list(t, c, make(client.Filters).Add("reference", "busybox")) {
		assert.DeepEqual(t, s.RepoTags, []string{"busybox:latest"})
		assert.DeepEqual(t, s.RepoDigests, []string{})
		assert.Equal(t, s.Containers, int64(0))
		assert.Assert(t, s.Size > 0)
	}
	repo, _, _ := strings.Cut(byDigest, "@")
	for _, s := range list(t, c, make(client.Filters).Add("reference", repo)) {
		assert.DeepEqual(t, s.RepoTags, []string{remote})
		assert.DeepEqual(t, s.RepoDigests, []string{byDigest})
	}
	all := list(t, c, nil)
	assert.DeepEqual(t, all[len(all)-1].RepoTags, []string{remote, "busybox:latest"})

	// Prune takes the dangling image only; with dangling=false, every
	// image no container uses.
	pr, err := c.ImagePrune(ctx(t), client.ImagePruneOptions{})
	assert.NilError(t, err)
	assert.DeepEqual(t, pr.Report.ImagesDeleted, []imagetypes.DeleteResponse{{Deleted: dangling}})
	assert.Assert(t, pr.Report.SpaceReclaimed > 0)
	assert.DeepEqual(t, ids(list(t, c, nil)), []string{other, id})

	pr, err = c.ImagePrune(ctx(t), client.ImagePruneOptions{Filters: make(client.Filters).Add("dangling", "false").Add("label", "org.berth.test")})
	assert.NilError(t, err)
	assert.Check(t, slices.Contains(pr.Report.ImagesDeleted, imagetypes.DeleteResponse{Deleted: id}), "%v", pr.Report.ImagesDeleted)
	assert.DeepEqual(t, ids(list(t, c, nil)), []string{other})

	// Every step was published as an image event.
	ev := c.Events(ctx(t), client.EventsListOptions{
		Since: "0", Until: strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10),
		Filters: make(client.Filters).Add("type", "image"),
	})
	seen := map[string][]string{}
	for done := false; !done; {
		select {
		case m := <-ev.Messages:
			seen[string(m.Action)] = append(seen[string(m.Action)], m.Actor.Attributes["name"])
		case err := <-ev.Err:
			assert.Assert(t, errors.Is(err, io.EOF), "%v", err)
			done = true
		}
	}
	for action, name := range map[string]string{
		"import": id, "tag": remote, "push": reg + "/busybox", "untag": "busybox:latest",
		"delete": id, "pull": reg + "/busybox", "save": "busybox:latest", "load": "busybox:latest", "prune": "",
	} {
		assert.Check(t, slices.Contains(seen[action], name), "%s: %v", action, seen[action])
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestImageImportURL imports from a URL on a loopback address and refuses
// any other address.
func TestImageImportURL(t *testing.T) {
	_, c := startDaemon(t)
	body := fileTar(t, "hello.txt", "hello")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	r, err := c.ImageImport(ctx(t), client.ImageImportSource{SourceName: "http://" + ln.Addr().String() + "/rootfs.tar"}, "fromurl:1",
		client.ImageImportOptions{Changes: []string{"WORKDIR /srv", "EXPOSE 8080"}})
	assert.NilError(t, err)
	ms, err := messages(t, r)
	assert.NilError(t, err)
	assert.Assert(t, strings.HasPrefix(ms[len(ms)-1].Status, "sha256:"), "%v", ms)
	img := inspect(t, c, "fromurl:1")
	assert.Equal(t, img.Config.WorkingDir, "/srv")
	assert.Check(t, is.Contains(img.Config.ExposedPorts, "8080/tcp"))

	_, err = c.ImageImport(ctx(t), client.ImageImportSource{SourceName: "http://192.0.2.1/rootfs.tar"}, "x:1", client.ImageImportOptions{})
	assert.Check(t, cerrdefs.IsInvalidArgument(err), "%v", err)
	_, err = c.ImageImport(ctx(t), client.ImageImportSource{Source: bytes.NewReader(body), SourceName: "-"}, "x:1",
		client.ImageImportOptions{Changes: []string{"ONBUILD RUN true"}})
	assert.Check(t, cerrdefs.IsInvalidArgument(err), "%v", err)
}

// TestImageSearchAndLogin lists a v2 registry's catalog for search and
// checks credentials against an htpasswd registry.
func TestImageSearchAndLogin(t *testing.T) {
	_, c := startDaemon(t)
	reg := testutil.StartRegistry(t)
	authReg := testutil.StartRegistryAuth(t, "berth", "s3cret")
	importImage(t, c, fileTar(t, "a", "a"), reg+"/team/alpha:1", client.ImageImportOptions{})
	importImage(t, c, fileTar(t, "b", "b"), reg+"/beta:1", client.ImageImportOptions{})
	for _, ref := range []string{reg + "/team/alpha:1", reg + "/beta:1"} {
		_, err := push(t, c, ref, "")
		assert.NilError(t, err)
	}

	res, err := c.ImageSearch(ctx(t), reg+"/alpha", client.ImageSearchOptions{})
	assert.NilError(t, err)
	assert.Equal(t, len(res.Items), 1)
	assert.Equal(t, res.Items[0].Name, reg+"/team/alpha")
	assert.Check(t, is.Contains(res.Items[0].Description, "_catalog"))
	res, err = c.ImageSearch(ctx(t), reg+"/a", client.ImageSearchOptions{Limit: 1})
	assert.NilError(t, err)
	assert.Equal(t, len(res.Items), 1)
	res, err = c.ImageSearch(ctx(t), reg+"/a", client.ImageSearchOptions{Filters: make(client.Filters).Add("is-official", "true")})
	assert.NilError(t, err)
	assert.Equal(t, len(res.Items), 0)
	_, err = c.ImageSearch(ctx(t), "busybox", client.ImageSearchOptions{})
	assert.Check(t, cerrdefs.IsNotImplemented(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "Docker Hub"))

	// Login.
	_, err = c.RegistryLogin(ctx(t), client.RegistryLoginOptions{ServerAddress: authReg, Username: "berth", Password: "wrong"})
	assert.Check(t, cerrdefs.IsUnauthorized(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "login attempt to http://"+authReg+"/v2/ failed with status: 401 Unauthorized"))
	lr, err := c.RegistryLogin(ctx(t), client.RegistryLoginOptions{ServerAddress: "http://" + authReg, Username: "berth", Password: "s3cret"})
	assert.NilError(t, err)
	assert.Equal(t, lr.Auth.Status, "Login Succeeded")

	// Push and pull with credentials in X-Registry-Auth.
	ref := authReg + "/private:1"
	_, err = c.ImageTag(ctx(t), client.ImageTagOptions{Source: reg + "/beta:1", Target: ref})
	assert.NilError(t, err)
	_, err = push(t, c, ref, "")
	assert.Check(t, err != nil, "push without credentials succeeded")
	auth := encodeAuth(t, registry.AuthConfig{Username: "berth", Password: "s3cret", ServerAddress: authReg})
	_, err = push(t, c, ref, auth)
	assert.NilError(t, err)
	_, err = c.ImageRemove(ctx(t), ref, client.ImageRemoveOptions{})
	assert.NilError(t, err)
	_, err = pull(t, c, ref, "")
	assert.Check(t, cerrdefs.IsUnauthorized(err), "%v", err)
	_, err = pull(t, c, ref, auth)
	assert.NilError(t, err)
}

// runContainer creates and starts a container of image running cmd and
// returns its ID.
func runContainer(t *testing.T, c *client.Client, image string, cmd ...string) string {
	t.Helper()
	cr, err := c.ContainerCreate(ctx(t), client.ContainerCreateOptions{
		Config:     &containertypes.Config{Image: image, Cmd: cmd},
		HostConfig: &containertypes.HostConfig{NetworkMode: "none"},
	})
	assert.NilError(t, err)
	_, err = c.ContainerStart(ctx(t), cr.ID, client.ContainerStartOptions{})
	assert.NilError(t, err)
	return cr.ID
}

func waitExit(t *testing.T, c *client.Client, id string) int64 {
	t.Helper()
	w := c.ContainerWait(ctx(t), id, client.ContainerWaitOptions{})
	select {
	case r := <-w.Result:
		return r.StatusCode
	case err := <-w.Error:
		t.Fatalf("wait %s: %v", id, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("wait %s: timeout", id)
	}
	return -1
}

// TestImageCommitAndContainers commits a container's changes into an image
// that runs, and checks that rmi refuses images containers use.
func TestImageCommitAndContainers(t *testing.T) {
	_, c := startDaemon(t)
	id := importImage(t, c, busyboxTar(t), "busybox:latest", client.ImageImportOptions{Changes: []string{`CMD ["sh"]`}})
	short := strings.TrimPrefix(id, "sha256:")[:12]

	ctr := runContainer(t, c, "busybox", "sh", "-c", "echo committed > /hello && rm /bin/true")
	assert.Equal(t, waitExit(t, c, ctr), int64(0))
	cm, err := c.ContainerCommit(ctx(t), ctr, client.ContainerCommitOptions{
		Reference: "committed:1", Comment: "a commit", Author: "berth tests",
		Changes: []string{`CMD ["cat", "/hello"]`, "ENV STAGE=committed"},
	})
	assert.NilError(t, err)
	img := inspect(t, c, "committed:1")
	assert.Equal(t, img.ID, cm.ID)
	assert.Equal(t, len(img.RootFS.Layers), 2)
	assert.Equal(t, img.Author, "berth tests")
	assert.Equal(t, img.Comment, "a commit")
	assert.DeepEqual(t, img.Config.Cmd, []string{"cat", "/hello"})
	assert.Check(t, is.Contains(img.Config.Env, "STAGE=committed"))
	hist, err := c.ImageHistory(ctx(t), "committed:1")
	assert.NilError(t, err)
	assert.Equal(t, len(hist.Items), 2)
	assert.Equal(t, hist.Items[0].Comment, "a commit")

	// The committed layer is there, whiteouts included.
	check := runContainer(t, c, "committed:1", "sh", "-c", `test "$(cat /hello)" = committed && ! test -e /bin/true && test "$STAGE" = committed`)
	assert.Equal(t, waitExit(t, c, check), int64(0))

	// busybox is used by stopped containers now.
	_, err = c.ImageRemove(ctx(t), id, client.ImageRemoveOptions{})
	assert.Check(t, cerrdefs.IsConflict(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "conflict: unable to delete "+short+" (must be forced) - image is being used by stopped container "+ctr[:12]))
	_, err = c.ImageRemove(ctx(t), "busybox", client.ImageRemoveOptions{})
	assert.Check(t, cerrdefs.IsConflict(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, `unable to remove repository reference "busybox" (must force) - container `+ctr[:12]+" is using its referenced image "+short))

	sum := list(t, c, make(client.Filters).Add("reference", "busybox"))
	assert.Equal(t, len(sum), 1)
	assert.Equal(t, sum[0].Containers, int64(1))

	running := runContainer(t, c, "busybox", "sleep", "60")
	t.Cleanup(func() { c.ContainerRemove(ctx(t), running, client.ContainerRemoveOptions{Force: true}) })
	_, err = c.ImageRemove(ctx(t), id, client.ImageRemoveOptions{Force: true})
	assert.Check(t, cerrdefs.IsConflict(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "conflict: unable to delete "+short+" (cannot be forced) - image is being used by running container "+running[:12]))

	// Forced, the name goes but the image stays for its containers.
	rm, err := c.ImageRemove(ctx(t), "busybox", client.ImageRemoveOptions{Force: true})
	assert.NilError(t, err)
	assert.DeepEqual(t, rm.Items, []imagetypes.DeleteResponse{{Untagged: "busybox:latest"}})
	assert.Equal(t, inspect(t, c, id).ID, id)

	// Pruning everything keeps what containers use.
	pr, err := c.ImagePrune(ctx(t), client.ImagePruneOptions{Filters: make(client.Filters).Add("dangling", "false")})
	assert.NilError(t, err)
	assert.Equal(t, len(pr.Report.ImagesDeleted), 0, "%v", pr.Report.ImagesDeleted)
	assert.Equal(t, inspect(t, c, id).ID, id)
}

// TestImagePullAllTags: pull -a (the API's empty tag) pulls every tag of
// the repository, and ends with one status for the repository.
func TestImagePullAllTags(t *testing.T) {
	_, c := startDaemon(t)
	reg := testutil.StartRegistry(t)
	repo := reg + "/multi"
	ids := map[string]string{}
	for _, tag := range []string{"t1", "t2"} {
		ids[tag] = importImage(t, c, fileTar(t, tag, tag), repo+":"+tag, client.ImageImportOptions{})
		_, err := push(t, c, repo+":"+tag, "")
		assert.NilError(t, err)
		_, err = c.ImageRemove(ctx(t), repo+":"+tag, client.ImageRemoveOptions{Force: true})
		assert.NilError(t, err)
	}
	r, err := c.ImagePull(ctx(t), repo, client.ImagePullOptions{All: true})
	assert.NilError(t, err)
	ms, err := messages(t, r)
	assert.NilError(t, err)
	assert.Equal(t, ms[len(ms)-1].Status, "Status: Downloaded newer image for "+repo)
	for tag, id := range ids {
		assert.Equal(t, inspect(t, c, repo+":"+tag).ID, id)
	}
	// a plain pull of the repository still means latest (the client sends it)
	_, err = pull(t, c, repo, "")
	assert.ErrorContains(t, err, "latest")
}
