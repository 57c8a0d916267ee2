// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package system holds the commands about the daemon as a whole: inspect
// (of any object), version, info, events, df and prune.
package system

import (
	"bytes"
	"context"
	"fmt"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/containerd/errdefs"
	"github.com/spf13/cobra"
)

// Object getters by type, shared with "container inspect", "image inspect"…

// InspectContainer fetches a container.
func InspectContainer(ctx context.Context, cl *client.Client, size bool) command.InspectFunc {
	return func(ref string) (any, []byte, error) {
		r, err := cl.ContainerInspect(ctx, ref, client.ContainerInspectOptions{Size: size})
		return r.Container, r.Raw, err
	}
}

// InspectImage fetches an image.
func InspectImage(ctx context.Context, cl *client.Client) command.InspectFunc {
	return func(ref string) (any, []byte, error) {
		var raw bytes.Buffer
		r, err := cl.ImageInspect(ctx, ref, client.ImageInspectWithRawResponse(&raw))
		return r.InspectResponse, raw.Bytes(), err
	}
}

// InspectNetwork fetches a network.
func InspectNetwork(ctx context.Context, cl *client.Client) command.InspectFunc {
	return func(ref string) (any, []byte, error) {
		r, err := cl.NetworkInspect(ctx, ref, client.NetworkInspectOptions{})
		return r.Network, r.Raw, err
	}
}

// InspectVolume fetches a volume.
func InspectVolume(ctx context.Context, cl *client.Client) command.InspectFunc {
	return func(ref string) (any, []byte, error) {
		r, err := cl.VolumeInspect(ctx, ref, client.VolumeInspectOptions{})
		return r.Volume, r.Raw, err
	}
}

// NewInspectCommand returns "inspect", which finds the object's type by
// trying containers, images, volumes and networks in turn.
func NewInspectCommand(cli *command.Cli) *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			getters := map[string]command.InspectFunc{
				"container": InspectContainer(ctx, cl, size),
				"image":     InspectImage(ctx, cl),
				"volume":    InspectVolume(ctx, cl),
				"network":   InspectNetwork(ctx, cl),
			}
			order := []string{"container", "image", "volume", "network"}
			if typ != "" {
				if _, ok := getters[typ]; !ok {
					return fmt.Errorf("%q is not a valid value for --type", typ)
				}
				order = []string{typ}
			}
			return command.Inspect(cli.Out(), cli.Err(), args, format, func(ref string) (any, []byte, error) {
				for _, t := range order {
					v, raw, err := getters[t](ref)
					if err == nil {
						return v, raw, nil
					}
					if !errdefs.IsNotFound(err) {
						return nil, nil, err
					}
				}
				if typ != "" {
					return nil, nil, fmt.Errorf("Error: No such %s: %s", typ, ref)
				}
				return nil, nil, fmt.Errorf("Error: No such object: %s", ref)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "", "Format output using a custom template")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	fs.StringVar(&typ, "type", "", "Only inspect objects of the given type")
	return cmd
}
