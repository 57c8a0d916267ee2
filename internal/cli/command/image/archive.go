// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// NewSaveCommand returns "save".
func NewSaveCommand(cli *command.Cli) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && cli.Out().IsTerminal() {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			rc, err := cl.ImageSave(cmd.Context(), args)
			if err != nil {
				return err
			}
			defer rc.Close()
			if output == "" {
				_, err = io.Copy(cli.Out(), rc)
				return err
			}
			return writeFileAtomic(output, rc)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func writeFileAtomic(path string, r io.Reader) error {
	dir, base := ".", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		dir, base = path[:i+1], path[i+1:]
	}
	f, err := os.CreateTemp(dir, ".docker_temp_"+base)
	if err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("failed to save image: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// NewLoadCommand returns "load".
func NewLoadCommand(cli *command.Cli) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cli.In()
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if cli.In().IsTerminal() {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			if !cli.Out().IsTerminal() {
				quiet = true
			}
			rc, err := cl.ImageLoad(cmd.Context(), in, client.ImageLoadWithQuiet(quiet))
			if err != nil {
				return err
			}
			defer rc.Close()
			return command.DisplayStream(rc, cli.Out())
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

// NewImportCommand returns "import".
func NewImportCommand(cli *command.Cli) *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			src := client.ImageImportSource{SourceName: args[0]}
			switch {
			case args[0] == "-":
				src.Source = cli.In()
			case strings.HasPrefix(args[0], "http://"), strings.HasPrefix(args[0], "https://"):
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src = client.ImageImportSource{Source: f, SourceName: "-"}
			}
			ref := ""
			if len(args) > 1 {
				ref = args[1]
			}
			opts := client.ImageImportOptions{Message: message, Changes: changes}
			if platform != "" {
				parts := strings.SplitN(platform, "/", 3)
				opts.Platform.OS = parts[0]
				if len(parts) > 1 {
					opts.Platform.Architecture = parts[1]
				}
				if len(parts) > 2 {
					opts.Platform.Variant = parts[2]
				}
			}
			rc, err := cl.ImageImport(cmd.Context(), src, ref, opts)
			if err != nil {
				return err
			}
			defer rc.Close()
			return command.DisplayStream(rc, cli.Out())
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}
