// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
)

// Image is an image as the builder sees it: its ID and configuration.
type Image struct {
	ID     string
	Config dockerspec.DockerOCIImage
}

// RunConfig is what a RUN step's container runs.
type RunConfig struct {
	// Parent is the image the container runs on.
	Parent string
	// Cmd is the full command line (the shell and the script, or the
	// exec form).
	Cmd []string
	// Env is the whole environment: the image's and the build args.
	Env        []string
	User       string
	WorkingDir string
	// Comment is the "#(nop)"-style description of the container's
	// purpose, for Docker's look in `ps -a` of a kept container.
	Comment string
}

// History describes a step in the image's history.
type History struct {
	CreatedBy string
	// Author is the stage's MAINTAINER.
	Author string
	// Discard says the step's container goes after the commit.
	Discard bool
}

// Backend is what a build needs from the daemon. Container IDs it returns
// name containers the builder removes with Remove (or keeps, as rm and
// forcerm say).
type Backend interface {
	// Image finds an image by name or ID, or errdefs.ErrNotFound.
	Image(ctx context.Context, ref string) (Image, error)
	// Pull fetches an image from its registry, reporting on out.
	Pull(ctx context.Context, ref string, out io.Writer) (Image, error)
	// Scratch returns the empty image (no layers, no configuration).
	Scratch(ctx context.Context) (Image, error)
	// Run creates a container for cfg, streams its output to out while it
	// runs and waits for its exit. The container exists when id is set,
	// whatever err says.
	Run(ctx context.Context, cfg RunConfig, out io.Writer) (id string, exitCode int, err error)
	// Prepare creates a container on parent without running it and
	// mounts its root filesystem for fn; it is unmounted when fn
	// returns.
	Prepare(ctx context.Context, parent, comment string, fn func(root string) error) (id string, err error)
	// Mount mounts a read-only view of image for fn.
	Mount(ctx context.Context, image string, fn func(root string) error) error
	// Commit makes the image of a step: container's changes (none when
	// container is "") on parent, with cfg; recorded under the cache key.
	// With h.Discard the container is removed next, and its writable
	// layer may become the new layer.
	Commit(ctx context.Context, container, parent string, cfg dockerspec.DockerOCIImageConfig, h History, key digest.Digest) (Image, error)
	// Cached returns the image recorded under key, if it still exists.
	Cached(ctx context.Context, key digest.Digest) (Image, bool)
	// Remove removes a container the builder made.
	Remove(ctx context.Context, id string) error
	// Tag names the image; KeepDangling shows an unnamed result in the
	// image list.
	Tag(ctx context.Context, id, ref string) error
	KeepDangling(ctx context.Context, id string) error
}

// Options are a build's parameters: those of POST /build.
type Options struct {
	// ContextDir is the extracted build context.
	ContextDir string
	// Dockerfile is its path in the context ("Dockerfile" when empty);
	// DockerfileData, when set, is the Dockerfile itself.
	Dockerfile     string
	DockerfileData []byte
	Tags           []string
	BuildArgs      map[string]*string
	Labels         map[string]string
	Target         string
	NoCache        bool
	// Remove removes intermediate containers after successful steps;
	// ForceRemove after failed ones too.
	Remove, ForceRemove bool
	PullParent          bool
	Quiet               bool
	// Platform is the requested platform; only this machine's is built.
	Platform string
}

// Result is what a successful build made.
type Result struct {
	ImageID string
}

// Builder runs one build.
type Builder struct {
	b    Backend
	opts Options
	out  io.Writer
	// log gets the step display (nothing with Quiet).
	log io.Writer

	stages    []instructions.Stage
	metaArgs  []instructions.ArgCommand
	escape    rune
	file      string
	step      int
	steps     int
	results   map[int]Image
	usedArgs  map[string]bool
	lex       *shell.Lex
	buildArgs map[string]*string
	// removals are the intermediate containers being removed in the
	// background while the next steps run; Build waits for them.
	removals sync.WaitGroup
}

// Error is a build failure with the status a client reports: Code is the
// failing command's exit code (the docker CLI exits with it).
type Error struct {
	Msg  string
	Code int
}

func (e *Error) Error() string { return e.Msg }

// Build parses the Dockerfile, builds the needed stages and names the
// result. out gets the step display as Docker's classic builder writes it.
func Build(ctx context.Context, be Backend, opts Options, out io.Writer) (Result, error) {
	bld := &Builder{b: be, opts: opts, out: out, log: out, results: map[int]Image{}, usedArgs: map[string]bool{}, buildArgs: opts.BuildArgs}
	if opts.Quiet {
		bld.log = io.Discard
	}
	if bld.buildArgs == nil {
		bld.buildArgs = map[string]*string{}
	}
	defer bld.removals.Wait()
	if err := bld.parse(); err != nil {
		return Result{}, err
	}
	target := len(bld.stages) - 1
	if opts.Target != "" {
		i, ok := instructions.HasStage(bld.stages, opts.Target)
		if !ok {
			return Result{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to reach build target %s in Dockerfile", opts.Target))
		}
		target = i
	}
	if len(opts.Labels) > 0 {
		// as Docker does: the labels become a LABEL at the end of the
		// target stage
		for _, k := range slices.Sorted(maps.Keys(opts.Labels)) {
			bld.stages[target].AddCommand(instructions.NewLabelCommand(k, opts.Labels[k], true))
		}
	}
	needed, err := bld.neededStages(target)
	if err != nil {
		return Result{}, err
	}
	for _, i := range needed {
		bld.steps += 1 + len(bld.stages[i].Commands)
	}
	var img Image
	for _, i := range needed {
		if img, err = bld.buildStage(ctx, i); err != nil {
			return Result{}, err
		}
		bld.results[i] = img
	}
	var unused []string
	for k := range bld.buildArgs {
		if !bld.usedArgs[k] && !builtinArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		fmt.Fprintf(bld.log, "[Warning] One or more build-args [%s] were not consumed\n", strings.Join(unused, " "))
	}
	if opts.Quiet {
		fmt.Fprintln(out, img.ID)
	} else {
		fmt.Fprintf(out, "Successfully built %s\n", shortID(img.ID))
	}
	for _, t := range opts.Tags {
		if err := be.Tag(ctx, img.ID, t); err != nil {
			return Result{}, err
		}
		fmt.Fprintf(bld.log, "Successfully tagged %s\n", familiarTag(t))
	}
	if len(opts.Tags) == 0 {
		if err := be.KeepDangling(ctx, img.ID); err != nil {
			return Result{}, err
		}
	}
	return Result{ImageID: img.ID}, nil
}

// builtinArgs are the args Docker lets a build use without an ARG.
var builtinArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// parse reads and parses the Dockerfile.
func (bld *Builder) parse() error {
	bld.file = bld.opts.Dockerfile
	if bld.file == "" {
		bld.file = "Dockerfile"
	}
	data := bld.opts.DockerfileData
	if data == nil {
		p, err := confined(bld.opts.ContextDir, bld.file)
		if err != nil {
			return err
		}
		data, err = os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && bld.opts.Dockerfile == "" {
			// Docker also takes a lower-case dockerfile.
			if p2, err2 := confined(bld.opts.ContextDir, "dockerfile"); err2 == nil {
				data, err = os.ReadFile(p2)
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot locate specified Dockerfile: %s", bld.file))
			}
			return err
		}
	}
	return bld.parseData(data)
}

// parseData parses the Dockerfile's text into stages.
func (bld *Builder) parseData(data []byte) error {
	if bld.file == "" {
		bld.file = "Dockerfile"
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return bld.parseError(err, 0)
	}
	if len(res.AST.Children) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("the Dockerfile (" + bld.file + ") cannot be empty")
	}
	bld.escape = res.EscapeToken
	bld.lex = shell.NewLex(res.EscapeToken)
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstruction(n)
		if err != nil {
			return bld.parseError(err, n.StartLine)
		}
		if len(bld.stages) == 0 {
			if a, ok := cmd.(*instructions.ArgCommand); ok {
				bld.metaArgs = append(bld.metaArgs, *a)
				continue
			}
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			bld.stages = append(bld.stages, *c)
		case instructions.Command:
			if len(bld.stages) == 0 {
				return bld.parseError(errors.New("no build stage in current context"), n.StartLine)
			}
			s := &bld.stages[len(bld.stages)-1]
			s.AddCommand(c)
		}
	}
	if len(bld.stages) == 0 {
		return bld.parseError(errors.New("file with no instructions"), 0)
	}
	return nil
}

// parseError says where the Dockerfile is wrong: the file and the line.
func (bld *Builder) parseError(err error, line int) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
		err = le.Unwrap()
	}
	msg := err.Error()
	if line > 0 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dockerfile parse error line %d (%s): %s", line, bld.file, msg))
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dockerfile parse error (%s): %s", bld.file, msg))
}

// neededStages returns the stages the target depends on (through FROM and
// COPY --from), in Dockerfile order.
func (bld *Builder) neededStages(target int) ([]int, error) {
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		s := bld.stages[i]
		base, err := bld.expandMeta(s.BaseName)
		if err != nil {
			return err
		}
		if j, ok := bld.stageIndex(base, i); ok {
			if err := visit(j); err != nil {
				return err
			}
		}
		for _, c := range s.Commands {
			var from string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				from = c.From
			case *instructions.RunCommand:
				continue
			}
			if from == "" {
				continue
			}
			if j, ok := bld.stageIndex(from, i); ok {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	var out []int
	for i := range bld.stages {
		if need[i] {
			out = append(out, i)
		}
	}
	return out, nil
}

// stageIndex finds a stage by name or number among those before cur.
func (bld *Builder) stageIndex(name string, cur int) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		if n >= 0 && n < cur {
			return n, true
		}
		return 0, false
	}
	for i := 0; i < cur; i++ {
		if bld.stages[i].Name != "" && strings.EqualFold(bld.stages[i].Name, name) {
			return i, true
		}
	}
	return 0, false
}

// expandMeta expands a FROM argument with the ARGs before the first FROM.
func (bld *Builder) expandMeta(word string) (string, error) {
	env := bld.metaEnv()
	s, _, err := bld.lex.ProcessWord(word, env)
	return s, err
}

func (bld *Builder) metaEnv() envList {
	var env envList
	for _, a := range bld.metaArgs {
		for _, kv := range a.Args {
			v, set := bld.argValue(kv.Key, kv.Value)
			if set {
				env = env.set(kv.Key, v)
			}
		}
	}
	return env
}

// argValue is an ARG's value: the build arg when given, else the
// default.
func (bld *Builder) argValue(key string, def *string) (string, bool) {
	if v, ok := bld.buildArgs[key]; ok {
		bld.usedArgs[key] = true
		if v != nil {
			return *v, true
		}
	}
	if def != nil {
		return *def, true
	}
	return "", false
}

// stepf writes "Step n/N : …".
func (bld *Builder) stepf(code string) {
	bld.step++
	fmt.Fprintf(bld.log, "Step %d/%d : %s\n", bld.step, bld.steps, code)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// envList is an environment as KEY=value strings, in order.
type envList []string

func (e envList) Get(k string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if ek, v, _ := strings.Cut(e[i], "="); ek == k {
			return v, true
		}
	}
	return "", false
}

func (e envList) Keys() []string {
	var keys []string
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// set replaces or appends k=v, keeping the order.
func (e envList) set(k, v string) envList {
	out := slices.Clone(e)
	for i, kv := range out {
		if ek, _, _ := strings.Cut(kv, "="); ek == k {
			out[i] = k + "=" + v
			return out
		}
	}
	return append(out, k+"="+v)
}

// cacheKey is the SHA-256 of the parts of a step.
func cacheKey(parts ...string) digest.Digest {
	d := digest.Canonical.Digester()
	for _, p := range parts {
		fmt.Fprintf(d.Hash(), "%d:%s\n", len(p), p)
	}
	return d.Digest()
}

// familiarTag is a tag as Docker prints it: "app:latest" for "app".
func familiarTag(t string) string {
	n, err := reference.ParseNormalizedNamed(t)
	if err != nil {
		return t
	}
	return reference.FamiliarString(reference.TagNameOnly(n))
}
