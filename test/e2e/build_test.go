// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// writeContext writes a build context: name → content ("->target" makes
// a symlink).
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if target, ok := strings.CutPrefix(data, "->"); ok {
			assert.NilError(t, os.Symlink(target, p))
			continue
		}
		assert.NilError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	return dir
}

// classic runs `docker build` with the classic builder against d.
func classic(t *testing.T, d *testutil.Daemon, args ...string) result {
	t.Helper()
	cmd := dockerCmd(d, append([]string{"build"}, args...)...)
	cmd.Env = append(cmd.Env, "DOCKER_BUILDKIT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}

// berthBuild runs `berth build` against d.
func berthBuild(t *testing.T, d *testutil.Daemon, args ...string) result {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}

func rmiOnCleanup(t *testing.T, refs ...string) {
	t.Cleanup(func() { dockerIn(t, shared, nil, append([]string{"rmi", "-f"}, refs...)...) })
}

var builtRe = regexp.MustCompile(`Successfully built ([0-9a-f]{12})`)

func builtID(t *testing.T, r result) string {
	t.Helper()
	m := builtRe.FindStringSubmatch(r.Stdout)
	assert.Assert(t, m != nil, "no image ID in %s", r)
	return m[1]
}

// TestBuildEveryInstruction builds, through the stock docker CLI with
// DOCKER_BUILDKIT=0, a Dockerfile with every instruction and the forms
// berth supports beyond Docker 20.10's classic builder (heredocs,
// --chmod, --link, --platform, ADD of a URL), and checks the result from
// inside a container and in the image's configuration.
func TestBuildEveryInstruction(t *testing.T) {
	// ADD of a URL from a server on loopback
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "downloaded\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dockerfile := `# syntax=docker/dockerfile:1
ARG TAG=latest
FROM --platform=linux/amd64 busybox:${TAG} AS base
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
RUN <<EOF
echo heredoc-script > /heredoc.txt
EOF
RUN cat > /fed.txt <<EOT
fed by heredoc
EOT
ONBUILD RUN echo triggered > /trigger.txt

FROM base AS app
ARG VERSION=1
ENV APP_VERSION=${VERSION} HOME_DIR=/srv
LABEL org.example.version=${VERSION}
COPY --chmod=755 run.sh /srv/run.sh
COPY --link --chown=user:user conf/ /srv/conf/
COPY <<EOF /srv/inline.txt
inline ${APP_VERSION}
EOF
ADD bundle.tar.gz /srv/bundle/
COPY --from=busybox:latest /etc/group /srv/group
ADD http://` + ln.Addr().String() + `/files/remote.txt /srv/
WORKDIR ${HOME_DIR}/work
USER user
EXPOSE 80/tcp 8443
VOLUME /srv/data
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s CMD test -f /srv/run.sh
SHELL ["/bin/sh", "-xc"]
ENTRYPOINT ["/srv/run.sh"]
CMD ["arg"]
ONBUILD RUN echo child > /tmp/child.txt
`
	ctxDir := writeContext(t, map[string]string{
		"Dockerfile":     dockerfile,
		"run.sh":         "#!/bin/sh\necho run \"$@\"\n",
		"conf/a.conf":    "a\n",
		"conf/sub/b.txt": "b\n",
	})
	tarGz := exec.Command("tar", "-C", ctxDir, "-czf", filepath.Join(ctxDir, "bundle.tar.gz"), "conf")
	out, err := tarGz.CombinedOutput()
	assert.NilError(t, err, "%s", out)

	rmiOnCleanup(t, "every:1")
	r := classic(t, shared, "--build-arg", "VERSION=7", "-t", "every:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Contains(r.Stdout, "Step 1/"))
	assert.Check(t, is.Contains(r.Stdout, "Successfully tagged every:1"))

	check := `cat /exec.txt /heredoc.txt /fed.txt /srv/inline.txt /srv/remote.txt /srv/bundle/conf/a.conf; ` +
		`stat -c '%a %u:%g %n' /srv/run.sh /srv/conf/a.conf /srv/conf/sub/b.txt /srv/remote.txt; pwd; id -u; cat /trigger.txt; test -e /tmp/child.txt || echo no-child; head -1 /srv/group`
	got := ok(t, "run", "--rm", "-u", "0", "--entrypoint", "/bin/sh", "every:1", "-c", check)
	assert.Check(t, is.Equal(got, strings.Join([]string{
		"exec-form", "heredoc-script", "fed by heredoc", "inline 7", "downloaded", "a",
		"755 0:0 /srv/run.sh", "644 1000:1000 /srv/conf/a.conf", "644 1000:1000 /srv/conf/sub/b.txt",
		"600 0:0 /srv/remote.txt", "/srv/work", "0", "triggered", "no-child", "root:x:0:",
	}, "\n")))
	assert.Check(t, is.Equal(ok(t, "run", "--rm", "every:1"), "run arg"))

	var cfg struct {
		Env          []string
		Labels       map[string]string
		ExposedPorts map[string]any
		Volumes      map[string]any
		StopSignal   string
		Shell        []string
		OnBuild      []string
		Healthcheck  struct{ Test []string }
		WorkingDir   string
		User         string
	}
	assert.NilError(t, json.Unmarshal([]byte(ok(t, "image", "inspect", "-f", "{{json .Config}}", "every:1")), &cfg))
	assert.Check(t, is.Contains(cfg.Env, "APP_VERSION=7"))
	assert.Check(t, is.Equal(cfg.Labels["org.example.version"], "7"))
	assert.Check(t, is.Len(cfg.ExposedPorts, 2))
	assert.Check(t, is.Contains(cfg.Volumes, "/srv/data"))
	assert.Check(t, is.Equal(cfg.StopSignal, "SIGQUIT"))
	assert.Check(t, is.DeepEqual(cfg.Shell, []string{"/bin/sh", "-xc"}))
	assert.Check(t, is.DeepEqual(cfg.OnBuild, []string{"RUN echo child > /tmp/child.txt"}))
	assert.Check(t, is.DeepEqual(cfg.Healthcheck.Test, []string{"CMD-SHELL", "test -f /srv/run.sh"}))

	// ONBUILD runs in a child build.
	child := writeContext(t, map[string]string{"Dockerfile": "FROM every:1\nUSER root\nRUN test -f /tmp/child.txt\n"})
	rmiOnCleanup(t, "every:child")
	r = classic(t, shared, "-t", "every:child", child)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Contains(r.Stdout, "# Executing 1 build trigger"))

	// ADD of an address nothing answers on fails clearly.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	dead := ln2.Addr().String()
	ln2.Close()
	bad := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nADD http://" + dead + "/x.txt /x.txt\n"})
	r = classic(t, shared, bad)
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(r.Stderr, "ADD failed: failed to GET http://"+dead+"/x.txt"))
}

// TestBuildCache: an unchanged rebuild takes every step from the cache
// and gives the same image; a changed copied file invalidates exactly
// the steps from its COPY on; --no-cache runs everything; multi-stage
// with COPY --from, build args and .dockerignore along the way.
func TestBuildCache(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{
		"Dockerfile": `FROM busybox AS builder
ARG MSG=default
RUN echo "$MSG" > /msg
COPY src/ /src/
RUN cat /src/* > /all

FROM busybox
COPY --from=builder /msg /all /out/
COPY keep.txt /keep.txt
RUN ls /out > /listing
`,
		".dockerignore":     "*.log\nsrc/secret*\n!src/secret-ok.txt\n",
		"src/a.txt":         "a\n",
		"src/secret.txt":    "secret\n",
		"src/secret-ok.txt": "ok\n",
		"debug.log":         "log\n",
		"keep.txt":          "keep\n",
	})
	rmiOnCleanup(t, "cache:1")
	args := []string{"--build-arg", "MSG=hello", "-t", "cache:1", ctxDir}
	r1 := classic(t, shared, args...)
	assert.Equal(t, r1.Code, 0, "%s", r1)
	assert.Check(t, !strings.Contains(r1.Stdout, "Using cache"))
	id1 := builtID(t, r1)
	got := ok(t, "run", "--rm", "cache:1", "sh", "-c", "cat /out/msg /out/all; cat /listing; ls /keep.txt")
	assert.Check(t, is.Equal(got, "hello\na\nok\nall\nmsg\n/keep.txt"))

	// Unchanged: every step after each FROM from the cache, same image.
	r2 := classic(t, shared, args...)
	assert.Equal(t, r2.Code, 0, "%s", r2)
	assert.Check(t, is.Equal(strings.Count(r2.Stdout, "Using cache"), 6), r2.Stdout)
	assert.Check(t, is.Equal(builtID(t, r2), id1))

	// An ignored file changing changes nothing.
	assert.NilError(t, os.WriteFile(filepath.Join(ctxDir, "debug.log"), []byte("other\n"), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(ctxDir, "src/secret.txt"), []byte("other\n"), 0o644))
	r3 := classic(t, shared, args...)
	assert.Check(t, is.Equal(builtID(t, r3), id1), r3.Stdout)

	// keep.txt changes: its COPY and the RUN after it run again, nothing
	// before.
	assert.NilError(t, os.WriteFile(filepath.Join(ctxDir, "keep.txt"), []byte("changed\n"), 0o644))
	r4 := classic(t, shared, args...)
	assert.Equal(t, r4.Code, 0, "%s", r4)
	assert.Check(t, is.Equal(strings.Count(r4.Stdout, "Using cache"), 4), r4.Stdout)
	steps := strings.Split(r4.Stdout, "Step ")
	assert.Check(t, is.Contains(steps[len(steps)-2], "COPY keep.txt"))
	assert.Check(t, !strings.Contains(steps[len(steps)-2], "Using cache"))
	assert.Check(t, !strings.Contains(steps[len(steps)-1], "Using cache"))
	assert.Check(t, builtID(t, r4) != id1)
	// the image that lost the tag is dangling, as in Docker
	assert.Check(t, is.Contains(ok(t, "images", "-q", "--filter", "dangling=true"), id1))

	// Another build arg invalidates the RUN that sees it.
	r5 := classic(t, shared, "--build-arg", "MSG=bye", "-t", "cache:1", ctxDir)
	assert.Equal(t, r5.Code, 0, "%s", r5)
	assert.Check(t, is.Contains(ok(t, "run", "--rm", "cache:1", "cat", "/out/msg"), "bye"))

	// --no-cache runs every step.
	r6 := classic(t, shared, append([]string{"--no-cache"}, args...)...)
	assert.Equal(t, r6.Code, 0, "%s", r6)
	assert.Check(t, !strings.Contains(r6.Stdout, "Using cache"))

	// --target builds only the stages the target needs.
	rmiOnCleanup(t, "cache:builder")
	r7 := classic(t, shared, "--target", "builder", "-t", "cache:builder", ctxDir)
	assert.Equal(t, r7.Code, 0, "%s", r7)
	assert.Check(t, is.Contains(r7.Stdout, "Step 5/5"))
}

// TestBuildCacheSurvivesRestart: the cache is on disk, a restarted daemon
// uses it, and builder prune empties it.
func TestBuildCacheSurvivesRestart(t *testing.T) {
	d := testutil.StartDaemon(t, berthBin)
	okOn(t, d, "import", busyboxTar, "busybox:latest")
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo one > /one\nENV A=b\nCOPY Dockerfile /\n"})
	r := berthBuild(t, d, "--progress", "plain", "-t", "restart:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	id := builtID(t, r)
	d.Stop()
	assert.NilError(t, d.Start())
	r = berthBuild(t, d, "--progress", "plain", "-t", "restart:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Equal(strings.Count(r.Stdout, "Using cache"), 3), r.Stdout)
	assert.Check(t, is.Equal(builtID(t, r), id))
	// intermediate images are listed with -a only
	assert.Check(t, is.Len(strings.Fields(okOn(t, d, "images", "-q")), 2))
	assert.Check(t, len(strings.Fields(okOn(t, d, "images", "-aq"))) > 2)

	pruned := okOn(t, d, "builder", "prune", "-f")
	assert.Check(t, is.Contains(pruned, "Deleted build cache objects:"))
	assert.Check(t, is.Contains(pruned, "Total reclaimed space"))
	cmd := exec.Command(berthBin, "-H", d.Host, "builder", "prune", "-f")
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, "%s", out)
	assert.Check(t, is.Equal(string(out), "Total reclaimed space: 0B\n"))
	r = berthBuild(t, d, "--progress", "plain", "-t", "restart:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, !strings.Contains(r.Stdout, "Using cache"), r.Stdout)
}

// TestBuildBadInput: each mistake is reported clearly and leaves no
// container or mount.
func TestBuildBadInput(t *testing.T) {
	before := ok(t, "ps", "-aq")
	mountsBefore := daemonMounts(t)
	cases := []struct {
		name, dockerfile string
		files            map[string]string
		code             int
		want             []string
	}{
		{name: "syntax", dockerfile: "FROM busybox\nRUN true\nFOO bar\n", code: 1,
			want: []string{"dockerfile parse error line 3 (Dockerfile): unknown instruction: FOO"}},
		{name: "failing run", dockerfile: "FROM busybox\nRUN echo about to fail && exit 7\n", code: 7,
			want: []string{"Step 2/2 : RUN echo about to fail && exit 7", "The command '/bin/sh -c echo about to fail && exit 7' returned a non-zero code: 7"}},
		{name: "unknown stage", dockerfile: "FROM busybox\nCOPY --from=nosuchstage /x /x\n", code: 1,
			want: []string{"invalid from flag value nosuchstage: No such image: nosuchstage"}},
		{name: "missing file", dockerfile: "FROM busybox\nCOPY missing.txt /\n", code: 1,
			want: []string{"COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist"}},
		{name: "outside context", dockerfile: "FROM busybox\nCOPY ../x /x\n", code: 1,
			want: []string{"COPY failed: forbidden path outside the build context: ../x ()"}},
		{name: "symlink outside", dockerfile: "FROM busybox\nCOPY link /x\n", files: map[string]string{"link": "->/etc/passwd"}, code: 1,
			want: []string{"COPY failed: forbidden path outside the build context: link -> /etc/passwd"}},
		{name: "symlink dir outside", dockerfile: "FROM busybox\nCOPY up/passwd /x\n", files: map[string]string{"up": "->../../../../../../etc"}, code: 1,
			want: []string{"COPY failed: forbidden path outside the build context: up -> ../../../../../../etc"}},
		{name: "empty", dockerfile: "# nothing\n", code: 1, want: []string{"file with no instructions"}},
		{name: "unknown target", dockerfile: "FROM busybox AS a\n", code: 1, want: []string{"failed to reach build target"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"Dockerfile": tc.dockerfile}
			for k, v := range tc.files {
				files[k] = v
			}
			args := []string{writeContext(t, files)}
			if tc.name == "unknown target" {
				args = append([]string{"--target", "nope"}, args...)
			}
			r := classic(t, shared, args...)
			assert.Check(t, is.Equal(r.Code, tc.code), "%s", r)
			for _, w := range tc.want {
				assert.Check(t, is.Contains(r.Stdout+r.Stderr, w))
			}
		})
	}
	// berth build reports the same, and exits with the command's code.
	r := berthBuild(t, shared, writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN exit 5\n"}))
	assert.Check(t, is.Equal(r.Code, 5), "%s", r)
	assert.Check(t, is.Contains(r.Stderr, "returned a non-zero code: 5"))

	assert.Check(t, is.Equal(ok(t, "ps", "-aq"), before), "a failed build left a container")
	assert.Check(t, is.Equal(daemonMounts(t), mountsBefore), "a failed build left a mount")
	entries, _ := os.ReadDir(filepath.Join(shared.DataRoot, "builder", "tmp"))
	assert.Check(t, is.Len(entries, 0), "build contexts left behind")
}

// TestBuildOptions: quiet, iidfile, labels, network and limits, rm=false
// keeping containers, and berth build's step display.
func TestBuildOptions(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) > /limit\nRUN ls /sys/class/net > /ifaces\n"})
	rmiOnCleanup(t, "opts:1")
	iid := filepath.Join(t.TempDir(), "iid")
	r := classic(t, shared, "-q", "--iidfile", iid, "--label", "built.by=test", "--network", "none", "--memory", "64m", "--no-cache", "-t", "opts:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	id, err := os.ReadFile(iid)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(strings.TrimSpace(r.Stdout), strings.TrimSpace(string(id))))
	assert.Check(t, is.Equal(ok(t, "image", "inspect", "-f", `{{index .Config.Labels "built.by"}}`, "opts:1"), "test"))
	assert.Check(t, is.Equal(ok(t, "run", "--rm", "opts:1", "cat", "/limit"), "67108864"))
	assert.Check(t, is.Equal(ok(t, "run", "--rm", "opts:1", "cat", "/ifaces"), "lo"))

	before := len(strings.Fields(ok(t, "ps", "-aq")))
	r = classic(t, shared, "--rm=false", "--no-cache", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	kept := strings.Fields(ok(t, "ps", "-aq"))
	assert.Check(t, is.Len(kept, before+2))
	t.Cleanup(func() { docker(t, append([]string{"rm", "-f"}, kept[:2]...)...) })

	// berth build on a terminal-less stdout with --progress plain: Docker's text
	r = berthBuild(t, shared, "--progress", "plain", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Contains(r.Stdout, "Step 2/3 : RUN echo"))
	// --progress tty: the step display
	r = berthBuild(t, shared, "--progress", "tty", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Contains(r.Stdout, "[2/3] RUN echo"))
	assert.Check(t, is.Contains(r.Stdout, "CACHED"))
	r = berthBuild(t, shared, "--progress", "fancy", ctxDir)
	assert.Check(t, r.Code != 0)
}

// daemonMounts counts the mounts under the shared daemon's directories.
func daemonMounts(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, shared.Dir) {
			n++
		}
	}
	return n
}

// TestBuildPullsBase: a FROM image that is not there is pulled from its
// registry (a real one on loopback), and --pull pulls it again.
func TestBuildPullsBase(t *testing.T) {
	reg := testutil.StartRegistry(t)
	ref := reg + "/base/busybox:pulled"
	ok(t, "tag", "busybox:latest", ref)
	ok(t, "push", ref)
	ok(t, "rmi", ref)
	rmiOnCleanup(t, ref, "pulled:1")
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN echo pulled > /p\n"})
	r := classic(t, shared, "-t", "pulled:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Contains(r.Stdout, "Status: Downloaded newer image for "+ref))
	assert.Check(t, is.Equal(ok(t, "run", "--rm", "pulled:1", "cat", "/p"), "pulled"))
	r = classic(t, shared, "--pull", "-t", "pulled:1", ctxDir)
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Contains(r.Stdout, "Status: Image is up to date for "+ref))

	missing := writeContext(t, map[string]string{"Dockerfile": "FROM " + reg + "/no/such:image\n"})
	r = classic(t, shared, missing)
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(r.Stderr, "not found"), "%s", r)
}

// TestBuildDockerfileFlag: -f names a Dockerfile in the context, or one
// outside it (which the CLI sends along), for berth build as for docker.
func TestBuildDockerfileFlag(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"sub/Dockerfile.dev": "FROM busybox\nRUN echo dev > /which\n", "Dockerfile": "FROM busybox\nRUN echo default > /which\n"})
	outside := filepath.Join(t.TempDir(), "Outside.Dockerfile")
	assert.NilError(t, os.WriteFile(outside, []byte("FROM busybox\nRUN echo outside > /which\n"), 0o644))
	rmiOnCleanup(t, "dfflag:1")
	for _, tc := range []struct{ file, want string }{
		{filepath.Join(ctxDir, "sub/Dockerfile.dev"), "dev"},
		{outside, "outside"},
		{"", "default"},
	} {
		var fArgs []string
		if tc.file != "" {
			fArgs = []string{"-f", tc.file}
		}
		base := append(fArgs, "-t", "dfflag:1", ctxDir)
		r := berthBuild(t, shared, append([]string{"--progress", "plain"}, base...)...)
		assert.Equal(t, r.Code, 0, "%s", r)
		assert.Check(t, is.Equal(ok(t, "run", "--rm", "dfflag:1", "cat", "/which"), tc.want), tc.file)
		r = classic(t, shared, base...)
		assert.Equal(t, r.Code, 0, "%s", r)
		assert.Check(t, is.Equal(ok(t, "run", "--rm", "dfflag:1", "cat", "/which"), tc.want), tc.file)
	}
	// a relative -f is taken from the current directory, as docker does
	r := berthBuild(t, shared, "-f", "sub/Dockerfile.dev", ctxDir)
	assert.Check(t, is.Equal(r.Code, 1), "%s", r)
	assert.Check(t, is.Contains(r.Stderr, "unable to evaluate symlinks in Dockerfile path"))
}

// TestBuildRemoteContext: a context at an http URL (a tar archive or a
// bare Dockerfile, here from a loopback server) is fetched by the daemon.
func TestBuildRemoteContext(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY hello.txt /\n", "hello.txt": "remote\n"})
	tarPath := filepath.Join(t.TempDir(), "ctx.tar")
	out, err := exec.Command("tar", "-C", ctxDir, "-cf", tarPath, ".").CombinedOutput()
	assert.NilError(t, err, "%s", out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ctx.tar":
			http.ServeFile(w, r, tarPath)
		case "/Dockerfile":
			fmt.Fprint(w, "FROM busybox\nRUN echo from-url > /u\n")
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	rmiOnCleanup(t, "remote:1")

	r := berthBuild(t, shared, "--progress", "plain", "-t", "remote:1", base+"/ctx.tar")
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Equal(ok(t, "run", "--rm", "remote:1", "cat", "/hello.txt"), "remote"))
	r = berthBuild(t, shared, "--progress", "plain", "-t", "remote:1", base+"/Dockerfile")
	assert.Equal(t, r.Code, 0, "%s", r)
	assert.Check(t, is.Equal(ok(t, "run", "--rm", "remote:1", "cat", "/u"), "from-url"))
	r = berthBuild(t, shared, base+"/missing.tar")
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(r.Stderr, "404 Not Found"), "%s", r)
}
