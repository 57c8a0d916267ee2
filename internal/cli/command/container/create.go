// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/imageref"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// NewCreateCommand returns "create".
func NewCreateCommand(cli *command.Cli) *cobra.Command {
	var opts ContainerOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cli.Client() // starts the version negotiation; errors come with the request
			warmCreateRequest()
			req, err := opts.Parse(args)
			if err != nil {
				return command.RunError(cmd, err)
			}
			id, err := createContainer(cmd.Context(), cli, &opts, req)
			if err != nil {
				return command.RunError(cmd, err)
			}
			fmt.Fprintln(cli.Out(), id)
			return nil
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// warmCreateRequest has encoding/json build its encoder for the create
// request on another goroutine (another core) while the command line is
// parsed and the daemon pinged: the first Marshal of a
// container.CreateRequest builds an encoder for every type its fields
// can reach, 0.6-1 ms here, on the critical path of every create and run.
func warmCreateRequest() {
	go json.Marshal(container.CreateRequest{})
}

func parsePlatform(s string) (*ocispec.Platform, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "/")
	p := &ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	if len(parts) > 3 || p.OS == "" {
		return nil, fmt.Errorf("invalid platform: %s", s)
	}
	return p, nil
}

// createContainer creates the container, pulling the image first when it
// is missing (or always, with --pull=always), and prints the daemon's
// warnings.
func createContainer(ctx context.Context, cli *command.Cli, opts *ContainerOptions, req *CreateRequest) (string, error) {
	cl, err := cli.Client()
	if err != nil {
		return "", err
	}
	platform, err := parsePlatform(opts.Platform)
	if err != nil {
		return "", err
	}
	var cidFile *os.File
	if opts.CIDFile != "" {
		if _, err := os.Stat(opts.CIDFile); err == nil {
			return "", fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", opts.CIDFile)
		}
		if cidFile, err = os.Create(opts.CIDFile); err != nil {
			return "", fmt.Errorf("failed to create the container ID file: %w", err)
		}
		defer cidFile.Close()
	}
	if t := cli.Out(); req.Config.Tty && t.IsTerminal() {
		h, w := t.Size()
		req.HostConfig.ConsoleSize = [2]uint{h, w}
	}
	image := req.Config.Image
	ref := image
	if named, err := imageref.ParseNormalized(image); err == nil {
		if named.Digest == "" {
			named = named.WithDefaultTag()
		}
		ref = named.FamiliarString()
	}
	pull := func() error {
		var out io.Writer = cli.Err()
		if opts.Quiet {
			out = nil
		}
		return cli.PullImage(ctx, ref, platform, false, out)
	}
	if opts.Pull == "always" {
		if err := pull(); err != nil {
			return "", err
		}
	} else if opts.Pull != "missing" && opts.Pull != "never" {
		return "", fmt.Errorf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", opts.Pull)
	}
	create := func() (client.ContainerCreateResult, error) {
		return cl.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: req.Config, HostConfig: req.HostConfig, NetworkingConfig: req.NetworkingConfig,
			Platform: platform, Name: opts.Name,
		})
	}
	res, err := create()
	if err != nil && errdefs.IsNotFound(err) && opts.Pull == "missing" && strings.Contains(err.Error(), "image") {
		if !opts.Quiet {
			fmt.Fprintf(cli.Err(), "Unable to find image '%s' locally\n", ref)
		}
		if err := pull(); err != nil {
			return "", err
		}
		res, err = create()
	}
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cli.Err(), "WARNING: %s\n", w)
	}
	if cidFile != nil {
		if _, err := cidFile.WriteString(res.ID); err != nil {
			return "", fmt.Errorf("failed to write the container ID to the file: %w", err)
		}
	}
	return res.ID, nil
}
