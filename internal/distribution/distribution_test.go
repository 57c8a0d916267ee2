// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/testutil"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"user/app", "docker.io/user/app:latest"},
		{"localhost:5000/x", "localhost:5000/x:latest"},
		{"127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1"},
		{"busybox@sha256:" + sha, "docker.io/library/busybox@sha256:" + sha},
	} {
		got, err := distribution.ParseRef(tc.in)
		assert.NilError(t, err, tc.in)
		assert.Equal(t, got.String(), tc.want, tc.in)
	}
	for _, in := range []string{"", "library/Busybox", "a:b:c", "busybox@sha256:short", "-x"} {
		_, err := distribution.ParseRef(in)
		assert.Check(t, errdefs.IsInvalidArgument(err), "%q: %v", in, err)
	}
}

const sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func mustRef(t *testing.T, s string) reference.Named {
	t.Helper()
	r, err := distribution.ParseRef(s)
	assert.NilError(t, err)
	return r
}

func TestPushResolveFetch(t *testing.T) {
	host := testutil.StartRegistry(t)
	ctx := t.Context()
	src := newStore(t)
	img := buildImage(t, src, runtime.GOARCH,
		map[string]string{"etc/hello": "hello\n"},
		map[string]string{"bin/tool": "tool v1\n", "etc/motd": "hi\n"})
	ref := mustRef(t, host+"/test/busybox:1")
	c := &distribution.Client{}

	pushed := statuses{}
	assert.NilError(t, c.Push(ctx, src, ref, img.Manifest, ocispec.MediaTypeImageManifest, distribution.PushOptions{Progress: pushed.add}))
	for _, l := range img.Layers {
		assert.Check(t, is.Equal(pushed[l.Digest.Encoded()[:12]], distribution.StatusPushed))
	}

	r, err := c.Resolve(ctx, ref)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(r.Manifest.Digest, img.ManifestDesc.Digest))
	assert.Check(t, is.Equal(r.Target.Digest, img.ManifestDesc.Digest))
	assert.Check(t, is.Equal(r.Manifest.MediaType, ocispec.MediaTypeImageManifest))
	assert.Check(t, is.Nil(r.Index))
	assert.Check(t, is.DeepEqual(r.Layers, img.Layers))
	assert.Check(t, is.DeepEqual(r.Config, img.Config))

	dst := newStore(t)
	fetched := statuses{}
	var mu sync.Mutex
	copies := map[digest.Digest]*bytes.Buffer{}
	dones := map[digest.Digest]error{}
	layer := func(desc ocispec.Descriptor) (io.Writer, func(error)) {
		mu.Lock()
		defer mu.Unlock()
		copies[desc.Digest] = &bytes.Buffer{}
		return copies[desc.Digest], func(err error) { mu.Lock(); dones[desc.Digest] = err; mu.Unlock() }
	}
	assert.NilError(t, c.FetchWith(ctx, dst, r, distribution.FetchOptions{Progress: fetched.add, Layer: layer}))
	assert.Check(t, is.Len(dones, len(img.Layers)))
	for _, l := range img.Layers {
		err, ok := dones[l.Digest]
		assert.Check(t, ok && err == nil, "%s: %v", l.Digest, err)
		assert.Check(t, is.Equal(digest.FromBytes(copies[l.Digest].Bytes()), l.Digest), "Layer gets each layer's bytes")
	}
	for _, d := range append([]ocispec.Descriptor{img.Config, img.ManifestDesc}, img.Layers...) {
		info, err := dst.Info(ctx, d.Digest)
		assert.NilError(t, err, d.Digest)
		assert.Check(t, is.Equal(info.Size, d.Size))
	}
	for _, l := range img.Layers {
		assert.Check(t, is.Equal(fetched[l.Digest.Encoded()[:12]], distribution.StatusDownloadComplete))
	}

	// Fetching again finds everything stored.
	again := statuses{}
	assert.NilError(t, c.Fetch(ctx, dst, r, again.add))
	for _, l := range img.Layers {
		assert.Check(t, is.Equal(again[l.Digest.Encoded()[:12]], distribution.StatusAlreadyExists))
	}

	// Pushing again sends no blob.
	repushed := statuses{}
	assert.NilError(t, (&distribution.Client{}).Push(ctx, src, ref, img.Manifest, ocispec.MediaTypeImageManifest, distribution.PushOptions{Progress: repushed.add}))
	for _, l := range img.Layers {
		assert.Check(t, is.Equal(repushed[l.Digest.Encoded()[:12]], distribution.StatusLayerAlreadyExists))
	}

	// By digest, too.
	byDigest := mustRef(t, host+"/test/busybox@"+img.ManifestDesc.Digest.String())
	r2, err := c.Resolve(ctx, byDigest)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(r2.Manifest.Digest, img.ManifestDesc.Digest))

	// Another repository on the same registry mounts the blobs.
	other := mustRef(t, host+"/test/other:1")
	mounted := statuses{}
	assert.NilError(t, (&distribution.Client{}).Push(ctx, src, other, img.Manifest, ocispec.MediaTypeImageManifest, distribution.PushOptions{
		MountFrom: func(digestArg digest.Digest) (reference.Named, bool) { return ref, true },
		Progress:  mounted.add,
	}))
	for _, l := range img.Layers {
		assert.Check(t, is.Equal(mounted[l.Digest.Encoded()[:12]], distribution.StatusMountedFrom+" test/busybox"))
	}
	_, err = c.Resolve(ctx, other)
	assert.NilError(t, err)
}

func TestResolveIndex(t *testing.T) {
	host := testutil.StartRegistry(t)
	ctx := t.Context()
	src := newStore(t)
	amd := buildImage(t, src, "amd64", map[string]string{"arch": "amd64\n"})
	arm := buildImage(t, src, "arm64", map[string]string{"arch": "arm64\n"})
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		withPlatform(arm.ManifestDesc, "arm64"),
		withPlatform(amd.ManifestDesc, "amd64"),
	}}
	idx.SchemaVersion = 2
	raw, err := json.Marshal(idx)
	assert.NilError(t, err)
	ref := mustRef(t, host+"/test/multi:1")
	assert.NilError(t, (&distribution.Client{}).Push(ctx, src, ref, raw, ocispec.MediaTypeImageIndex, distribution.PushOptions{}))

	for arch, want := range map[string]testImage{"amd64": amd, "arm64": arm} {
		c := &distribution.Client{Platform: &ocispec.Platform{OS: "linux", Architecture: arch}}
		r, err := c.Resolve(ctx, ref)
		assert.NilError(t, err, arch)
		assert.Check(t, is.Equal(r.Manifest.Digest, want.ManifestDesc.Digest), arch)
		assert.Check(t, is.Equal(r.Manifest.Platform.Architecture, arch))
		assert.Check(t, is.Equal(r.Target.MediaType, ocispec.MediaTypeImageIndex))
		assert.Check(t, is.DeepEqual(r.Index, raw))

		dst := newStore(t)
		assert.NilError(t, c.Fetch(ctx, dst, r, nil))
		for _, d := range []ocispec.Descriptor{r.Target, want.ManifestDesc, want.Config, want.Layers[0]} {
			_, err := dst.Info(ctx, d.Digest)
			assert.Check(t, err, d.Digest)
		}
	}

	_, err = (&distribution.Client{Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}).Resolve(ctx, ref)
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "no matching manifest for linux/s390x"))
}

func withPlatform(d ocispec.Descriptor, arch string) ocispec.Descriptor {
	d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
	return d
}

func TestResolveNotFound(t *testing.T) {
	host := testutil.StartRegistry(t)
	ctx := t.Context()
	src := newStore(t)
	img := buildImage(t, src, runtime.GOARCH, map[string]string{"a": "a"})
	c := &distribution.Client{}
	assert.NilError(t, c.Push(ctx, src, mustRef(t, host+"/test/nf:1"), img.Manifest, ocispec.MediaTypeImageManifest, distribution.PushOptions{}))

	for _, s := range []string{host + "/test/nf:nope", host + "/test/nothere:1"} {
		_, err := c.Resolve(ctx, mustRef(t, s))
		t.Log(err)
		assert.Check(t, errdefs.IsNotFound(err), "%s: %v", s, err)
		assert.Check(t, is.ErrorContains(err, "manifest unknown"), s)
	}
}

func TestAuth(t *testing.T) {
	host := testutil.StartRegistryAuth(t, "alice", "s3cret")
	ctx := t.Context()
	src := newStore(t)
	img := buildImage(t, src, runtime.GOARCH, map[string]string{"a": "a"})
	ref := mustRef(t, host+"/test/private:1")
	creds := func(user, pass string) distribution.AuthFunc {
		return func(registry string) (string, string, bool) {
			assert.Check(t, is.Equal(registry, host))
			return user, pass, true
		}
	}

	for name, c := range map[string]*distribution.Client{
		"anonymous":      {},
		"wrong password": {Auth: creds("alice", "wrong")},
	} {
		err := c.Push(ctx, src, ref, img.Manifest, ocispec.MediaTypeImageManifest, distribution.PushOptions{})
		t.Log(err)
		assert.Check(t, errdefs.IsUnauthorized(err), "%s: %v", name, err)
		assert.Check(t, is.ErrorContains(err, "unauthorized"), name)
		_, err = c.Resolve(ctx, ref)
		assert.Check(t, errdefs.IsUnauthorized(err), "%s: %v", name, err)
	}

	c := &distribution.Client{Auth: creds("alice", "s3cret")}
	assert.NilError(t, c.Push(ctx, src, ref, img.Manifest, ocispec.MediaTypeImageManifest, distribution.PushOptions{}))
	r, err := c.Resolve(ctx, ref)
	assert.NilError(t, err)
	assert.NilError(t, c.Fetch(ctx, newStore(t), r, nil))
}

func TestUnreachable(t *testing.T) {
	// A loopback port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	host := l.Addr().String()
	assert.NilError(t, l.Close())

	_, err = (&distribution.Client{}).Resolve(t.Context(), mustRef(t, host+"/test/x:1"))
	t.Log(err)
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
}
