// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/cli/command"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// BuildOptions are the flags of "build".
type BuildOptions struct {
	Tags, BuildArgs, Labels []string
	Dockerfile, Target      string
	Network, Platform       string
	ShmSize                 string
	NoCache, Pull, Quiet    bool
	Rm, ForceRm             bool
	IIDFile                 string
}

// NewBuildCommand returns "build" (the classic builder through /build).
func NewBuildCommand(cli *command.Cli) *cobra.Command {
	var opts BuildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			bo := client.ImageBuildOptions{
				Tags: opts.Tags, Dockerfile: opts.Dockerfile, Target: opts.Target, NoCache: opts.NoCache,
				PullParent: opts.Pull, SuppressOutput: opts.Quiet, Remove: opts.Rm, ForceRemove: opts.ForceRm,
				NetworkMode: opts.Network, Version: build.BuilderV1, BuildArgs: map[string]*string{},
				Labels: map[string]string{},
			}
			for _, a := range opts.BuildArgs {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					if env, set := os.LookupEnv(k); set {
						v, ok = env, true
					}
				}
				if ok {
					bo.BuildArgs[k] = &v
				} else {
					bo.BuildArgs[k] = nil
				}
			}
			for _, l := range opts.Labels {
				k, v, _ := strings.Cut(l, "=")
				bo.Labels[k] = v
			}
			if opts.ShmSize != "" {
				if bo.ShmSize, err = units.RAMInBytes(opts.ShmSize); err != nil {
					return err
				}
			}
			var body io.Reader
			switch src := args[0]; {
			case src == "-":
				body = cli.In()
			case strings.HasPrefix(src, "http://"), strings.HasPrefix(src, "https://"), strings.HasPrefix(src, "git@"):
				bo.RemoteContext = src
			default:
				st, err := os.Stat(src)
				if err != nil {
					return fmt.Errorf("unable to prepare context: path %q not found", src)
				}
				if !st.IsDir() {
					return fmt.Errorf("unable to prepare context: context must be a directory: %s", src)
				}
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(tarContext(pw, src)) }()
				body = pr
				if !opts.Quiet {
					fmt.Fprintln(cli.Out(), "Sending build context to Docker daemon")
				}
			}
			res, err := cl.ImageBuild(cmd.Context(), body, bo)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			var imageID string
			aux := func(m jsonstream.Message) {
				var r struct{ ID string }
				if m.Aux != nil && json.Unmarshal(*m.Aux, &r) == nil && r.ID != "" {
					imageID = r.ID
				}
			}
			// With -q the daemon streams only the image ID, which docker
			// prints once the build has succeeded.
			var out io.Writer = cli.Out()
			var quietOut bytes.Buffer
			if opts.Quiet {
				out = &quietOut
			}
			fd, tty := term.GetFdInfo(out)
			if err := jsonmessage.DisplayJSONMessagesStream(res.Body, out, fd, tty, aux); err != nil {
				return err
			}
			if opts.Quiet {
				fmt.Fprint(cli.Out(), quietOut.String())
			}
			if opts.IIDFile != "" && imageID != "" {
				return os.WriteFile(opts.IIDFile, []byte(imageID), 0o666)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&opts.Tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	fs.StringVarP(&opts.Dockerfile, "file", "f", "", `Name of the Dockerfile (Default is "PATH/Dockerfile")`)
	fs.StringArrayVar(&opts.BuildArgs, "build-arg", nil, "Set build-time variables")
	fs.StringArrayVar(&opts.Labels, "label", nil, "Set metadata for an image")
	fs.StringVar(&opts.Target, "target", "", "Set the target build stage to build.")
	fs.StringVar(&opts.Network, "network", "default", "Set the networking mode for the RUN instructions during build")
	fs.StringVar(&opts.Platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.StringVar(&opts.ShmSize, "shm-size", "", "Size of \"/dev/shm\"")
	fs.BoolVar(&opts.NoCache, "no-cache", false, "Do not use cache when building the image")
	fs.BoolVar(&opts.Pull, "pull", false, "Always attempt to pull a newer version of the image")
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fs.BoolVar(&opts.Rm, "rm", true, "Remove intermediate containers after a successful build")
	fs.BoolVar(&opts.ForceRm, "force-rm", false, "Always remove intermediate containers")
	fs.StringVar(&opts.IIDFile, "iidfile", "", "Write the image ID to the file")
	return cmd
}

// readIgnore reads .dockerignore: one pattern a line, "#" comments, "!"
// re-includes.
func readIgnore(dir string) []string {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var pats []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		neg := strings.HasPrefix(l, "!")
		l = path.Clean(strings.TrimPrefix(strings.TrimPrefix(l, "!"), "/"))
		if neg {
			l = "!" + l
		}
		pats = append(pats, l)
	}
	return pats
}

// ignored applies the patterns in order; the last match wins. A pattern
// matching a directory excludes everything below it.
func ignored(pats []string, rel string) bool {
	excluded := false
	for _, p := range pats {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		match := false
		for q := rel; q != "." && q != "/" && q != ""; q = path.Dir(q) {
			if ok, _ := path.Match(p, q); ok {
				match = true
				break
			}
		}
		if match {
			excluded = !neg
		}
	}
	return excluded
}

// tarContext writes the build context directory as a tar stream.
func tarContext(w io.Writer, dir string) error {
	pats := readIgnore(dir)
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignored(pats, rel) && rel != "Dockerfile" && rel != ".dockerignore" {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
