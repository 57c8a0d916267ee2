// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/sys/signal"
	"github.com/opencontainers/go-digest"
)

// stage is the state of the stage being built.
type stage struct {
	index int
	img   Image
	cfg   dockerspec.DockerOCIImageConfig
	// args are the ARGs declared in the stage with their values, in
	// order, as KEY=value.
	args envList
	// cmdSet says CMD was set in this stage: ENTRYPOINT then keeps it.
	cmdSet bool
	// author is MAINTAINER's, for the steps from there on.
	author string
}

// defaultPath is the PATH a stage gets when its base image has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// env is what words are expanded with: the args, overridden by ENV.
func (st *stage) env() envList {
	return append(slices.Clone(st.args), st.cfg.Env...)
}

// runEnv is a RUN container's environment: the image's, plus the args
// that ENV does not override.
func (st *stage) runEnv() (env []string, argPrefix string) {
	env = slices.Clone(st.cfg.Env)
	var used []string
	for _, kv := range st.args {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := envList(st.cfg.Env).Get(k); ok {
			continue
		}
		env = append(env, kv)
		used = append(used, kv)
	}
	if len(used) > 0 {
		argPrefix = fmt.Sprintf("|%d %s ", len(used), strings.Join(used, " "))
	}
	return env, argPrefix
}

func (st *stage) shell() []string {
	if len(st.cfg.Shell) > 0 {
		return slices.Clone(st.cfg.Shell)
	}
	return []string{"/bin/sh", "-c"}
}

// buildStage builds stage i and returns its image.
func (bld *Builder) buildStage(ctx context.Context, i int) (Image, error) {
	s := bld.stages[i]
	bld.stepf(s.SourceCode)
	st := &stage{index: i}
	base, err := bld.expandMeta(s.BaseName)
	if err != nil {
		return Image{}, bld.stepError(s.SourceCode, err)
	}
	if s.Platform != "" {
		p, err := bld.expandMeta(s.Platform)
		if err != nil {
			return Image{}, err
		}
		if p != "linux/"+runtime.GOARCH && p != "linux" {
			return Image{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("platform %s is not supported: this builder builds linux/%s only", p, runtime.GOARCH))
		}
	}
	if err := bld.checkPlatform(); err != nil {
		return Image{}, err
	}
	switch j, ok := bld.stageIndex(base, i); {
	case ok:
		st.img = bld.results[j]
	case strings.EqualFold(base, "scratch"):
		st.img, err = bld.b.Scratch(ctx)
	default:
		st.img, err = bld.baseImage(ctx, base)
	}
	if err != nil {
		return Image{}, err
	}
	st.cfg = cloneConfig(st.img.Config.Config)
	if _, ok := envList(st.cfg.Env).Get("PATH"); !ok {
		// as Docker's classic builder: the default PATH when the base
		// has none
		st.cfg.Env = append([]string{"PATH=" + defaultPath}, st.cfg.Env...)
	}
	fmt.Fprintf(bld.log, " ---> %s\n", shortID(st.img.ID))
	if triggers := st.cfg.OnBuild; len(triggers) > 0 {
		st.cfg.OnBuild = nil
		if err := bld.runTriggers(ctx, st, triggers); err != nil {
			return Image{}, err
		}
	}
	for _, cmd := range s.Commands {
		bld.stepf(cmdCode(cmd))
		if err := bld.dispatch(ctx, st, cmd); err != nil {
			return Image{}, err
		}
	}
	return st.img, nil
}

func (bld *Builder) checkPlatform() error {
	p := bld.opts.Platform
	if p == "" || p == "linux/"+runtime.GOARCH || p == "linux" {
		return nil
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("platform %s is not supported: this builder builds linux/%s only", p, runtime.GOARCH))
}

// baseImage finds FROM's image, pulling it when asked or missing.
func (bld *Builder) baseImage(ctx context.Context, ref string) (Image, error) {
	if !bld.opts.PullParent {
		img, err := bld.b.Image(ctx, ref)
		if err == nil || !errdefs.IsNotFound(err) {
			return img, err
		}
	}
	return bld.b.Pull(ctx, ref, bld.log)
}

// runTriggers runs the parent's ONBUILD instructions, as the child's own.
func (bld *Builder) runTriggers(ctx context.Context, st *stage, triggers []string) error {
	fmt.Fprintf(bld.log, "# Executing %d build trigger", len(triggers))
	if len(triggers) > 1 {
		fmt.Fprint(bld.log, "s")
	}
	fmt.Fprintln(bld.log)
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ONBUILD trigger %q: %v", t, err))
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseCommand(n)
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ONBUILD trigger %q: %v", t, err))
			}
			if err := bld.dispatch(ctx, st, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func cmdCode(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return c.Name()
}

// stepError wraps a failure of the step code.
func (bld *Builder) stepError(code string, err error) error {
	var be *Error
	if errors.As(err, &be) || errdefs.IsInvalidArgument(err) || errdefs.IsNotFound(err) {
		return err
	}
	return fmt.Errorf("%s: %w", code, err)
}

// expander expands words with the stage's args and environment.
func (bld *Builder) expander(st *stage) instructions.SingleWordExpander {
	env := st.env()
	return func(word string) (string, error) {
		s, _, err := bld.lex.ProcessWord(word, env)
		return s, err
	}
}

// dispatch runs one instruction on st.
func (bld *Builder) dispatch(ctx context.Context, st *stage, cmd instructions.Command) error {
	if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := cmd.(*instructions.RunCommand); !isRun {
			if err := e.Expand(bld.expander(st)); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s: %v", cmdCode(cmd), err))
			}
		}
	}
	if e, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(bld.expander(st)); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s: %v", cmdCode(cmd), err))
		}
	}
	cfg := cloneConfig(st.cfg)
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = envList(cfg.Env).set(kv.Key, kv.Value)
		}
		return bld.commitConfig(ctx, st, cfg, "ENV "+kvString(c.Env))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
		return bld.commitConfig(ctx, st, cfg, "LABEL "+kvString(c.Labels))
	case *instructions.MaintainerCommand:
		st.author = c.Maintainer
		return bld.commitConfig(ctx, st, cfg, "MAINTAINER "+c.Maintainer)
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			def := kv.Value
			if def == nil {
				// an ARG redeclared in the stage keeps the default of
				// the ARG before the first FROM
				if v, ok := bld.metaEnv().Get(kv.Key); ok {
					def = &v
				}
			}
			v, set := bld.argValue(kv.Key, def)
			if set {
				// one declared without any value stays unset: it expands
				// to nothing and is not in RUN's environment, as in Docker
				st.args = st.args.set(kv.Key, v)
			}
		}
		fmt.Fprintf(bld.log, " ---> %s\n", shortID(st.img.ID))
		return nil
	case *instructions.CmdCommand:
		cfg.Cmd = bld.commandLine(st, c.ShellDependantCmdLine)
		st.cmdSet = true
		return bld.commitConfig(ctx, st, cfg, "CMD "+jsonList(cfg.Cmd))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = bld.commandLine(st, c.ShellDependantCmdLine)
		if !st.cmdSet {
			cfg.Cmd = nil
		}
		return bld.commitConfig(ctx, st, cfg, "ENTRYPOINT "+jsonList(cfg.Entrypoint))
	case *instructions.ExposeCommand:
		ports, err := bld.exposedPorts(st, c.Ports)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			cfg.ExposedPorts[p] = struct{}{}
		}
		return bld.commitConfig(ctx, st, cfg, "EXPOSE "+strings.Join(ports, " "))
	case *instructions.UserCommand:
		cfg.User = c.User
		return bld.commitConfig(ctx, st, cfg, "USER "+c.User)
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v = strings.TrimSpace(v); v == "" {
				return errdefs.ErrInvalidArgument.WithMessage("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		return bld.commitConfig(ctx, st, cfg, "VOLUME "+jsonList(c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := signal.ParseSignal(c.Signal); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		cfg.StopSignal = c.Signal
		return bld.commitConfig(ctx, st, cfg, "STOPSIGNAL "+c.Signal)
	case *instructions.HealthCheckCommand:
		cfg.Healthcheck = c.Health
		return bld.commitConfig(ctx, st, cfg, "HEALTHCHECK "+healthString(c.Health))
	case *instructions.ShellCommand:
		cfg.Shell = slices.Clone(c.Shell)
		return bld.commitConfig(ctx, st, cfg, "SHELL "+jsonList(c.Shell))
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		return bld.commitConfig(ctx, st, cfg, "ONBUILD "+c.Expression)
	case *instructions.WorkdirCommand:
		return bld.workdir(ctx, st, cfg, c.Path)
	case *instructions.RunCommand:
		return bld.run(ctx, st, c)
	case *instructions.CopyCommand:
		return bld.copy(ctx, st, copySpec{
			name: "COPY", sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod,
			exclude: c.ExcludePatterns, parents: c.Parents, code: c.String(),
		})
	case *instructions.AddCommand:
		if c.Checksum != "" || c.KeepGitDir != nil {
			return errdefs.ErrNotImplemented.WithMessage("ADD --checksum and --keep-git-dir need BuildKit")
		}
		unpack := c.Unpack == nil || *c.Unpack
		return bld.copy(ctx, st, copySpec{
			name: "ADD", sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod,
			exclude: c.ExcludePatterns, add: true, unpack: unpack, code: c.String(),
		})
	}
	return errdefs.ErrNotImplemented.WithMessage("unsupported instruction " + cmd.Name())
}

// commandLine is CMD's or ENTRYPOINT's command: the exec form as it is,
// the shell form run by the stage's shell.
func (bld *Builder) commandLine(st *stage, c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(st.shell(), strings.Join(c.CmdLine, " "))
	}
	return slices.Clone(c.CmdLine)
}

// commitConfig finishes a step that changes only the configuration: an
// image with no new layer, from the cache when it is there.
func (bld *Builder) commitConfig(ctx context.Context, st *stage, cfg dockerspec.DockerOCIImageConfig, desc string) error {
	createdBy := "/bin/sh -c #(nop)  " + desc
	key := cacheKey("config", st.img.ID, createdBy, configString(cfg))
	if bld.useCache(ctx, st, key) {
		return nil
	}
	img, err := bld.b.Commit(ctx, "", st.img.ID, cfg, History{CreatedBy: createdBy, Author: st.author}, key)
	if err != nil {
		return err
	}
	bld.advance(st, img)
	return nil
}

// useCache moves st to the image cached under key, if any.
func (bld *Builder) useCache(ctx context.Context, st *stage, key digest.Digest) bool {
	if bld.opts.NoCache {
		return false
	}
	img, ok := bld.b.Cached(ctx, key)
	if !ok {
		return false
	}
	fmt.Fprintln(bld.log, " ---> Using cache")
	bld.advance(st, img)
	return true
}

func (bld *Builder) advance(st *stage, img Image) {
	st.img = img
	st.cfg = img.Config.Config
	fmt.Fprintf(bld.log, " ---> %s\n", shortID(img.ID))
}

// run runs a RUN step in a container and commits what it changed.
func (bld *Builder) run(ctx context.Context, st *stage, c *instructions.RunCommand) error {
	if len(c.FlagsUsed) > 0 {
		return errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("the --%s option requires BuildKit", c.FlagsUsed[0]))
	}
	var cmd []string
	switch {
	case !c.PrependShell:
		cmd = slices.Clone(c.CmdLine)
	case len(c.Files) > 0:
		script := strings.Join(c.CmdLine, " ")
		if len(c.Files) == 1 && isHeredocOnly(script) {
			// RUN <<EOF: the heredoc is the script
			cmd = append(st.shell(), heredocData(c.Files[0]))
		} else {
			// heredocs the command reads: the shell reads them too
			var b strings.Builder
			b.WriteString(script)
			for _, f := range c.Files {
				b.WriteString("\n" + f.Data + f.Name)
			}
			cmd = append(st.shell(), b.String())
		}
	default:
		cmd = append(st.shell(), strings.Join(c.CmdLine, " "))
	}
	env, argPrefix := st.runEnv()
	createdBy := argPrefix + strings.Join(cmd, " ")
	key := cacheKey("run", st.img.ID, createdBy, configString(st.cfg))
	if bld.useCache(ctx, st, key) {
		return nil
	}
	id, code, err := bld.b.Run(ctx, RunConfig{
		Parent: st.img.ID, Cmd: cmd, Env: env, User: st.cfg.User, WorkingDir: st.cfg.WorkingDir,
	}, &runOutput{w: bld.log, started: func(id string) { fmt.Fprintf(bld.log, " ---> Running in %s\n", shortID(id)) }})
	if err == nil && code != 0 {
		err = &Error{Msg: fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(cmd, " "), code), Code: code}
	}
	if err != nil {
		bld.discard(ctx, id, false)
		return err
	}
	img, err := bld.b.Commit(ctx, id, st.img.ID, st.cfg, History{CreatedBy: createdBy, Author: st.author, Discard: bld.removes()}, key)
	bld.discard(ctx, id, err == nil)
	if err != nil {
		return err
	}
	bld.advance(st, img)
	return nil
}

// runOutput announces the container before its first output.
type runOutput struct {
	w       interface{ Write([]byte) (int, error) }
	started func(id string)
	id      string
}

// Started is called by the backend once the container exists.
func (o *runOutput) Started(id string) {
	o.id = id
	o.started(id)
}

func (o *runOutput) Write(p []byte) (int, error) { return o.w.Write(p) }

// discard removes a step's container as rm and forcerm say: with rm (the
// default) or forcerm. Unlike Docker, which keeps a failed step's
// container unless forcerm, rm removes it too, so that a failed build
// leaves nothing behind; --rm=false keeps every step's container for
// inspection.
func (bld *Builder) discard(ctx context.Context, id string, ok bool) {
	if id == "" {
		return
	}
	if bld.removes() {
		if ok {
			fmt.Fprintf(bld.log, "Removing intermediate container %s\n", shortID(id))
		}
		// in the background, while the next step runs
		bld.removals.Add(1)
		go func() {
			defer bld.removals.Done()
			if err := bld.b.Remove(context.WithoutCancel(ctx), id); err != nil {
				fmt.Fprintf(bld.log, "Could not remove intermediate container %s: %v\n", shortID(id), err)
			}
		}()
	}
}

// removes says whether intermediate containers go (rm or forcerm).
func (bld *Builder) removes() bool { return bld.opts.Remove || bld.opts.ForceRemove }

// workdir sets WORKDIR and creates the directory when it is missing.
func (bld *Builder) workdir(ctx context.Context, st *stage, cfg dockerspec.DockerOCIImageConfig, dir string) error {
	if !path.IsAbs(dir) {
		base := cfg.WorkingDir
		if base == "" {
			base = "/"
		}
		dir = path.Join(base, dir)
	}
	dir = path.Clean(dir)
	cfg.WorkingDir = dir
	createdBy := "/bin/sh -c #(nop) WORKDIR " + dir
	key := cacheKey("workdir", st.img.ID, createdBy, configString(cfg))
	if bld.useCache(ctx, st, key) {
		return nil
	}
	// Docker 20.10 creates the directory as root, whatever the USER.
	id, err := bld.b.Prepare(ctx, st.img.ID, createdBy, func(root string) error {
		return mkdirAll(root, dir, 0, 0)
	})
	if err != nil {
		bld.discard(ctx, id, false)
		return err
	}
	img, err := bld.b.Commit(ctx, id, st.img.ID, cfg, History{CreatedBy: createdBy, Author: st.author, Discard: true}, key)
	bld.discardQuiet(ctx, id)
	if err != nil {
		return err
	}
	bld.advance(st, img)
	return nil
}

// discardQuiet removes a container that ran nothing (COPY, WORKDIR), in
// the background.
func (bld *Builder) discardQuiet(ctx context.Context, id string) {
	if id == "" {
		return
	}
	bld.removals.Add(1)
	go func() {
		defer bld.removals.Done()
		bld.b.Remove(context.WithoutCancel(ctx), id)
	}()
}

func isHeredocOnly(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "<<") && !strings.ContainsAny(s, " \t|;&>")
}

func heredocData(f instructions.ShellInlineFile) string {
	if f.Chomp {
		return parser.ChompHeredocContent(f.Data)
	}
	return f.Data
}

// exposedPorts expands EXPOSE's ports ("80", "53/udp", "8000-8002") to
// Docker's "port/proto" keys.
func (bld *Builder) exposedPorts(st *stage, in []string) ([]string, error) {
	exp := bld.expander(st)
	var out []string
	for _, p := range in {
		p, err := exp(p)
		if err != nil {
			return nil, err
		}
		port, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		lo, hi, isRange := strings.Cut(port, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || b < a || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid containerPort: %s", p))
		}
		for n := a; n <= b; n++ {
			out = append(out, fmt.Sprintf("%d/%s", n, proto))
		}
	}
	return out, nil
}

func kvString(kvs instructions.KeyValuePairs) string {
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, kv.Key+"="+kv.Value)
	}
	return strings.Join(parts, " ")
}

func jsonList(l []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, s := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(s))
	}
	b.WriteByte(']')
	return b.String()
}

func healthString(h *dockerspec.HealthcheckConfig) string {
	if h == nil {
		return ""
	}
	return fmt.Sprintf("&{%s %s %s %s %d}", jsonList(h.Test), h.Interval, h.Timeout, h.StartPeriod, h.Retries)
}

// configString is a stable text of a configuration, for cache keys.
func configString(c dockerspec.DockerOCIImageConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "user=%q env=%q cmd=%q ep=%q wd=%q sig=%q shell=%q onbuild=%q\n", c.User, c.Env, c.Cmd, c.Entrypoint, c.WorkingDir, c.StopSignal, c.Shell, c.OnBuild)
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		fmt.Fprintf(&b, "label %q=%q\n", k, c.Labels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.ExposedPorts)) {
		fmt.Fprintf(&b, "port %q\n", k)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Volumes)) {
		fmt.Fprintf(&b, "vol %q\n", k)
	}
	fmt.Fprintf(&b, "health %s\n", healthString(c.Healthcheck))
	return b.String()
}

func cloneConfig(c dockerspec.DockerOCIImageConfig) dockerspec.DockerOCIImageConfig {
	c.Env = slices.Clone(c.Env)
	c.Cmd = slices.Clone(c.Cmd)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Labels = maps.Clone(c.Labels)
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	c.Volumes = maps.Clone(c.Volumes)
	c.Shell = slices.Clone(c.Shell)
	c.OnBuild = slices.Clone(c.OnBuild)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		c.Healthcheck = &h
	}
	return c
}
