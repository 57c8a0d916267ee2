// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package command

import (
	"context"
	"io"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DisplayStream renders a JSON message stream (pull, push, load, build
// progress) on out: per-layer lines updated in place on a terminal, plain
// lines otherwise.
func DisplayStream(in io.Reader, out io.Writer) error {
	fd, tty := term.GetFdInfo(out)
	return jsonmessage.DisplayJSONMessagesStream(in, out, fd, tty, nil)
}

// PullImage pulls ref with the stored credentials and shows the progress
// on out (nothing when out is nil).
func (c *Cli) PullImage(ctx context.Context, ref string, platform *ocispec.Platform, all bool, out io.Writer) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	auth, err := c.EncodedAuth(ref)
	if err != nil {
		return err
	}
	opts := client.ImagePullOptions{RegistryAuth: auth, All: all}
	if platform != nil {
		opts.Platforms = []ocispec.Platform{*platform}
	}
	resp, err := cl.ImagePull(ctx, ref, opts)
	if err != nil {
		return err
	}
	defer resp.Close()
	if out == nil {
		out = io.Discard
	}
	return DisplayStream(resp, out)
}
