// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// TestDistributionInspect asks the daemon what a real registry has for a
// reference (GET /distribution/{name}/json), without pulling: the
// manifest's descriptor and the platform in its config for an image, the
// entries' platforms for an index, Docker's errors otherwise.
func TestDistributionInspect(t *testing.T) {
	_, c := startDaemon(t)
	reg := testutil.StartRegistry(t)
	repo := reg + "/dist"
	id := importImage(t, c, fileTar(t, "f", "x"), repo+":v1", client.ImageImportOptions{})
	_, err := push(t, c, repo+":v1", "")
	assert.NilError(t, err)
	// nothing is pulled: the image can be gone locally
	_, err = c.ImageRemove(ctx(t), id, client.ImageRemoveOptions{Force: true})
	assert.NilError(t, err)

	res, err := c.DistributionInspect(ctx(t), repo+":v1", client.DistributionInspectOptions{})
	assert.NilError(t, err)
	desc := res.Descriptor
	assert.Check(t, is.DeepEqual(res.Platforms, []ocispec.Platform{{OS: "linux", Architecture: runtime.GOARCH}}))
	// the descriptor is the manifest's as the registry serves it
	req, err := http.NewRequest(http.MethodHead, "http://"+reg+"/v2/dist/manifests/v1", nil)
	assert.NilError(t, err)
	req.Header.Set("Accept", ocispec.MediaTypeImageManifest+", application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	assert.NilError(t, err)
	resp.Body.Close()
	assert.Check(t, is.Equal(desc.Digest.String(), resp.Header.Get("Docker-Content-Digest")))
	assert.Check(t, is.Equal(desc.MediaType, resp.Header.Get("Content-Type")))
	assert.Check(t, is.Equal(strconv.FormatInt(desc.Size, 10), resp.Header.Get("Content-Length")))

	// an index that lists that manifest twice, for two platforms
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{
			{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
			{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		},
	})
	assert.NilError(t, err)
	req, err = http.NewRequest(http.MethodPut, "http://"+reg+"/v2/dist/manifests/multi", bytes.NewReader(index))
	assert.NilError(t, err)
	req.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
	resp, err = http.DefaultClient.Do(req)
	assert.NilError(t, err)
	resp.Body.Close()
	assert.Equal(t, resp.StatusCode, http.StatusCreated)
	res, err = c.DistributionInspect(ctx(t), repo+":multi", client.DistributionInspectOptions{})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Descriptor.MediaType, ocispec.MediaTypeImageIndex))
	assert.Check(t, is.Equal(res.Descriptor.Digest.String(), resp.Header.Get("Docker-Content-Digest")))
	assert.Check(t, is.DeepEqual(res.Platforms, []ocispec.Platform{
		{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}))

	// by digest, and a bare name (latest)
	res, err = c.DistributionInspect(ctx(t), repo+"@"+desc.Digest.String(), client.DistributionInspectOptions{})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Descriptor.Digest, desc.Digest))
	_, err = c.DistributionInspect(ctx(t), repo, client.DistributionInspectOptions{})
	assert.Check(t, cerrdefs.IsNotFound(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "manifest unknown"))

	// what names nothing in a registry
	_, err = c.DistributionInspect(ctx(t), strings.TrimPrefix(id, "sha256:"), client.DistributionInspectOptions{})
	assert.Check(t, is.ErrorContains(err, "no manifest found for full image ID"))
	_, err = c.DistributionInspect(ctx(t), "Bad:Name", client.DistributionInspectOptions{})
	assert.Check(t, cerrdefs.IsInvalidArgument(err), "%v", err)
}
