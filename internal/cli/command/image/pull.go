// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/imageref"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// NewPullCommand returns "pull".
func NewPullCommand(cli *command.Cli) *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			named, err := imageref.ParseNormalized(args[0])
			if err != nil {
				return err
			}
			if all && !named.NameOnly() {
				return errors.New("tag can't be used with --all-tags/-a")
			}
			if !all && named.NameOnly() {
				named = named.WithDefaultTag()
				if !quiet {
					fmt.Fprintf(cli.Out(), "Using default tag: %s\n", named.Tag)
				}
			}
			var p *ocispec.Platform
			if platform != "" {
				parts := strings.SplitN(platform, "/", 3)
				p = &ocispec.Platform{OS: parts[0]}
				if len(parts) > 1 {
					p.Architecture = parts[1]
				}
				if len(parts) > 2 {
					p.Variant = parts[2]
				}
			}
			var out io.Writer = cli.Out()
			if quiet {
				out = nil
			}
			if err := cli.PullImage(cmd.Context(), named.FamiliarString(), p, all, out); err != nil {
				return err
			}
			if !all {
				fmt.Fprintln(cli.Out(), named.String())
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fs.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.Bool("disable-content-trust", true, "Skip image verification")
	return cmd
}

// NewPushCommand returns "push".
func NewPushCommand(cli *command.Cli) *cobra.Command {
	var all, quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			named, err := imageref.ParseNormalized(args[0])
			if err != nil {
				return err
			}
			if all && !named.NameOnly() {
				return fmt.Errorf("tag can't be used with --all-tags/-a")
			}
			if !all && named.NameOnly() {
				named = named.WithDefaultTag()
				if !quiet {
					fmt.Fprintf(cli.Out(), "Using default tag: %s\n", named.Tag)
				}
			}
			ref := named.FamiliarString()
			auth, err := cli.EncodedAuth(ref)
			if err != nil {
				return err
			}
			resp, err := cl.ImagePush(cmd.Context(), ref, client.ImagePushOptions{All: all, RegistryAuth: auth})
			if err != nil {
				return err
			}
			defer resp.Close()
			if quiet {
				if err := command.DisplayStream(resp, io.Discard); err != nil {
					return err
				}
				fmt.Fprintln(cli.Out(), named.String())
				return nil
			}
			return command.DisplayStream(resp, cli.Out())
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fs.Bool("disable-content-trust", true, "Skip image signing")
	return cmd
}
