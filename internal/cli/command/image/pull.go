// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berth-project/berth/internal/cli/command"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"
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
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return err
			}
			if all && !reference.IsNameOnly(named) {
				return errors.New("tag can't be used with --all-tags/-a")
			}
			if !all && reference.IsNameOnly(named) {
				named = reference.TagNameOnly(named)
				if !quiet {
					fmt.Fprintf(cli.Out(), "Using default tag: %s\n", named.(reference.Tagged).Tag())
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
			if err := cli.PullImage(cmd.Context(), reference.FamiliarString(named), p, all, out); err != nil {
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
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return err
			}
			if all && !reference.IsNameOnly(named) {
				return fmt.Errorf("tag can't be used with --all-tags/-a")
			}
			if !all && reference.IsNameOnly(named) {
				named = reference.TagNameOnly(named)
				if !quiet {
					fmt.Fprintf(cli.Out(), "Using default tag: %s\n", named.(reference.Tagged).Tag())
				}
			}
			ref := reference.FamiliarString(named)
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
