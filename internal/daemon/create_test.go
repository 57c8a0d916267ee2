// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"
)

func TestMergeHealthcheck(t *testing.T) {
	img := &containertypes.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 2}
	for _, tc := range []struct {
		name      string
		container *containertypes.HealthConfig
		image     *containertypes.HealthConfig
		want      *containertypes.HealthConfig
	}{
		{"neither", nil, nil, nil},
		{"image only", nil, img, img},
		{"container replaces", &containertypes.HealthConfig{Test: []string{"NONE"}}, img, &containertypes.HealthConfig{Test: []string{"NONE"}}},
		{"container timings, image test", &containertypes.HealthConfig{Interval: 5 * time.Second}, img,
			&containertypes.HealthConfig{Test: []string{"CMD", "true"}, Interval: 5 * time.Second, Retries: 2}},
	} {
		cfg := &containertypes.Config{Healthcheck: tc.container}
		mergeHealthcheck(cfg, tc.image)
		assert.DeepEqual(t, cfg.Healthcheck, tc.want)
	}
}

func TestMergeImageConfig(t *testing.T) {
	img := &ocispec.ImageConfig{
		Env:        []string{"PATH=/bin", "A=image"},
		Cmd:        []string{"sh"},
		WorkingDir: "/srv",
		User:       "nobody",
		Labels:     map[string]string{"l": "image", "m": "image"},
		StopSignal: "SIGQUIT",
	}
	cfg := &containertypes.Config{Env: []string{"A=container", "B=1"}, Labels: map[string]string{"m": "container"}}
	mergeImageConfig(cfg, img)
	assert.DeepEqual(t, cfg.Env, []string{"PATH=/bin", "A=container", "B=1"})
	assert.DeepEqual(t, []string(cfg.Cmd), []string{"sh"})
	assert.Equal(t, cfg.WorkingDir, "/srv")
	assert.Equal(t, cfg.User, "nobody")
	assert.Equal(t, cfg.StopSignal, "SIGQUIT")
	assert.DeepEqual(t, cfg.Labels, map[string]string{"l": "image", "m": "container"})

	// an entrypoint given by the client drops the image's command
	cfg = &containertypes.Config{Entrypoint: []string{"echo"}}
	mergeImageConfig(cfg, img)
	assert.Equal(t, len(cfg.Cmd), 0)
}
