// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"testing"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"
)

func TestApplyChanges(t *testing.T) {
	base := func() ocispec.ImageConfig {
		return ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv"}
	}
	for _, tc := range []struct {
		name    string
		changes []string
		want    ocispec.ImageConfig
	}{
		{"cmd json", []string{`CMD ["echo", "hi"]`}, ocispec.ImageConfig{Cmd: []string{"echo", "hi"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv"}},
		{"cmd shell", []string{`CMD echo hi`}, ocispec.ImageConfig{Cmd: []string{"/bin/sh", "-c", "echo hi"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv"}},
		{"entrypoint clears inherited cmd", []string{`ENTRYPOINT ["/bin/top"]`}, ocispec.ImageConfig{Entrypoint: []string{"/bin/top"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv"}},
		{"entrypoint keeps cmd set before", []string{`CMD ["-b"]`, `ENTRYPOINT ["/bin/top"]`}, ocispec.ImageConfig{Entrypoint: []string{"/bin/top"}, Cmd: []string{"-b"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv"}},
		{"env pairs and legacy", []string{`ENV A=2 "B=x y"`, "ENV C hello world"}, ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=2", "B=x y", "C=hello world"}, WorkingDir: "/srv"}},
		{"label, expose, volume, user, stopsignal", []string{"LABEL a=b c=\"d e\"\nEXPOSE 80 53/udp 8000-8001", `VOLUME ["/data"]`, "USER nobody", "STOPSIGNAL SIGINT"}, ocispec.ImageConfig{
			Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv",
			Labels:       map[string]string{"a": "b", "c": "d e"},
			ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}},
			Volumes:      map[string]struct{}{"/data": {}}, User: "nobody", StopSignal: "SIGINT",
		}},
		{"workdir relative", []string{"WORKDIR app", "workdir /x/../y"}, ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			assert.NilError(t, ApplyChanges(&cfg, tc.changes))
			assert.DeepEqual(t, cfg, tc.want)
		})
	}
}

func TestApplyChangesRefused(t *testing.T) {
	for _, c := range []string{"ONBUILD RUN true", "RUN true", "HEALTHCHECK NONE", "EXPOSE 80/xyz", "ENV", "LABEL novalue", `ENV A="x`} {
		cfg := ocispec.ImageConfig{}
		err := ApplyChanges(&cfg, []string{c})
		assert.Check(t, errdefs.IsInvalidArgument(err), "%s: %v", c, err)
	}
}
