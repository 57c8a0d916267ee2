// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
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
	Progress                string
	AddHosts, Ulimits       []string
	CacheFrom, SecurityOpt  []string
	CgroupParent            string
	Memory, MemorySwap      string
	CPUShares, CPUPeriod    int64
	CPUQuota                int64
	CPUSetCPUs, CPUSetMems  string
	Isolation               string
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
				Labels: map[string]string{}, ExtraHosts: opts.AddHosts, CacheFrom: opts.CacheFrom,
				SecurityOpt: opts.SecurityOpt, CgroupParent: opts.CgroupParent, CPUShares: opts.CPUShares,
				CPUPeriod: opts.CPUPeriod, CPUQuota: opts.CPUQuota, CPUSetCPUs: opts.CPUSetCPUs,
				CPUSetMems: opts.CPUSetMems, Isolation: container.Isolation(opts.Isolation),
			}
			switch opts.Progress {
			case "auto", "plain", "tty":
			case "quiet":
				opts.Quiet = true
				bo.SuppressOutput = true
			default:
				return fmt.Errorf("invalid progress mode %q: use auto, plain, tty or quiet", opts.Progress)
			}
			if opts.Memory != "" {
				if bo.Memory, err = units.RAMInBytes(opts.Memory); err != nil {
					return fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %v", opts.Memory, err)
				}
			}
			if opts.MemorySwap != "" {
				if opts.MemorySwap == "-1" {
					bo.MemorySwap = -1
				} else if bo.MemorySwap, err = units.RAMInBytes(opts.MemorySwap); err != nil {
					return fmt.Errorf("invalid argument %q for \"--memory-swap\" flag: %v", opts.MemorySwap, err)
				}
			}
			for _, u := range opts.Ulimits {
				ul, err := units.ParseUlimit(u)
				if err != nil {
					return fmt.Errorf("invalid argument %q for \"--ulimit\" flag: %v", u, err)
				}
				bo.Ulimits = append(bo.Ulimits, &container.Ulimit{Name: ul.Name, Hard: ul.Hard, Soft: ul.Soft})
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
				dockerfile, extra, err := dockerfileIn(src, opts.Dockerfile)
				if err != nil {
					return err
				}
				bo.Dockerfile = dockerfile
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(tarContext(pw, src, dockerfile, extra)) }()
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
			if opts.Progress == "plain" {
				tty = false
			}
			if tty || opts.Progress == "tty" {
				err = displaySteps(res.Body, out, aux)
			} else {
				err = jsonmessage.DisplayJSONMessagesStream(res.Body, out, fd, false, aux)
			}
			var jerr *jsonstream.Error
			if errors.As(err, &jerr) {
				// docker exits with the failing RUN's code
				code := jerr.Code
				if code == 0 {
					code = 1
				}
				return command.StatusError{Status: jerr.Message, StatusCode: code}
			}
			if err != nil {
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
	fs.StringVar(&opts.Progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	fs.StringSliceVar(&opts.AddHosts, "add-host", nil, "Add a custom host-to-IP mapping (\"host:ip\")")
	fs.StringArrayVar(&opts.Ulimits, "ulimit", nil, "Ulimit options")
	fs.StringSliceVar(&opts.CacheFrom, "cache-from", nil, "Images to consider as cache sources")
	fs.StringSliceVar(&opts.SecurityOpt, "security-opt", nil, "Security options")
	fs.StringVar(&opts.CgroupParent, "cgroup-parent", "", `Set the parent cgroup for the "RUN" instructions during build`)
	fs.StringVarP(&opts.Memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&opts.MemorySwap, "memory-swap", "", `Swap limit equal to memory plus swap: -1 to enable unlimited swap`)
	fs.Int64VarP(&opts.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&opts.CPUPeriod, "cpu-period", 0, "Limit the CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&opts.CPUQuota, "cpu-quota", 0, "Limit the CPU CFS (Completely Fair Scheduler) quota")
	fs.StringVar(&opts.CPUSetCPUs, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&opts.CPUSetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&opts.Isolation, "isolation", "", "Container isolation technology")
	return cmd
}

// readIgnore reads .dockerignore with Docker's rules (moby/patternmatcher
// ignorefile): comments, "!" exceptions, cleaned paths.
func readIgnore(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	pats, err := ignorefile.ReadAll(f)
	if err != nil || len(pats) == 0 {
		return nil, err
	}
	return patternmatcher.New(pats)
}

// dockerfileIn says where -f's Dockerfile is in the context, as the
// docker CLI does: a relative path is taken from the current directory; a
// Dockerfile outside the
// context is sent inside it under a name of its own (extra).
func dockerfileIn(ctxDir, given string) (name string, extra []byte, err error) {
	if given == "" {
		return "Dockerfile", nil, nil
	}
	if given == "-" {
		return "", nil, errors.New("reading the Dockerfile from stdin with a context directory is not supported")
	}
	absCtx, err := filepath.Abs(ctxDir)
	if err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(given)
	if err != nil {
		return "", nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %w", err)
	}
	if c, err := filepath.EvalSymlinks(absCtx); err == nil {
		absCtx = c
	}
	if rel, err := filepath.Rel(absCtx, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return filepath.ToSlash(rel), nil, nil
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	return ".dockerfile." + hex.EncodeToString(b), data, nil
}

// tarContext writes the build context directory as a tar stream, with
// .dockerignore applied (the Dockerfile and .dockerignore always go), and
// a Dockerfile from outside the context (extra) under the name dockerfile.
func tarContext(w io.Writer, dir, dockerfile string, extra []byte) error {
	pm, err := readIgnore(dir)
	if err != nil {
		return fmt.Errorf("read .dockerignore: %w", err)
	}
	tw := tar.NewWriter(w)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if pm != nil && rel != dockerfile && rel != ".dockerignore" {
			excluded, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if excluded {
				if fi.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				if !fi.IsDir() {
					return nil
				}
				// a directory an exception may reach into: walk it, but
				// send no entry for it
				return nil
			}
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
	if extra != nil {
		h := &tar.Header{Name: dockerfile, Mode: 0o644, Size: int64(len(extra)), Typeflag: tar.TypeReg, ModTime: time.Now()}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(extra); err != nil {
			return err
		}
	}
	return tw.Close()
}
