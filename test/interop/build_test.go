// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package interop_test

import (
	"archive/tar"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// buildDockerfile uses every instruction Docker 20.10's classic builder
// knows (flags that need BuildKit, such as COPY --chmod, are tested
// against berth alone in test/e2e).
const buildDockerfile = `# escape=\
ARG BASE=busybox
FROM ${BASE}:latest AS base
LABEL stage=base
ONBUILD RUN echo triggered > /onbuild.txt

FROM base AS build
ARG GREETING=hello
ARG UNUSED
ENV GREETING=${GREETING} \
    OTHER="two words"
RUN echo "$GREETING" > /greeting && mkdir -p /out && echo built > /out/artifact
COPY files/ /src/
COPY --chown=1000:1000 a.txt /src/owned.txt
ADD archive.tar /unpacked/
WORKDIR /app
WORKDIR sub
LABEL version="1.0" maintainer.team=berth
EXPOSE 8080 53/udp 9000-9001
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=2 CMD ["true"]
MAINTAINER berth authors
USER app
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo "$GREETING from $(cat /greeting)"
ONBUILD LABEL child=yes

FROM busybox:latest AS unused
RUN echo unused-stage-ran

FROM build
COPY --from=base /bin/busybox /copied-busybox
`

// TestBuildMatchesDocker builds the same Dockerfile with Docker 20.10's
// classic builder (DOCKER_BUILDKIT=0, docker.io's own CLI) and with berth
// (the stock docker CLI) and checks that the images' configurations are
// the same: Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts, Volumes,
// Labels, Healthcheck, StopSignal, Shell and OnBuild, and that the files
// the steps made are there in both.
func TestBuildMatchesDocker(t *testing.T) {
	testutil.RequiresRoot(t)
	if os.Getenv("BERTH_INTEROP") != "1" {
		t.Skip("interop with a private Docker 20.10 daemon runs with BERTH_INTEROP=1 (make interop)")
	}
	testutil.RequiresBusybox(t)
	d := startDockerd(t)
	b := testutil.StartDaemon(t, berthBin)
	berth := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+b.Host, "DOCKER_CONFIG="+filepath.Join(b.Dir, "cli"), "DOCKER_BUILDKIT=0")
		out, err := cmd.CombinedOutput()
		assert.NilError(t, err, "berth: docker %s: %s\n%s", strings.Join(args, " "), out, tail(b.Log(), 30))
		return string(out)
	}

	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	// a user for USER and --chown
	appendFile(t, filepath.Join(rootfs, "etc/passwd"), "app:x:1000:1000::/home/app:/bin/sh\n")
	appendFile(t, filepath.Join(rootfs, "etc/group"), "app:x:1000:\n")
	rootfsTar := filepath.Join(t.TempDir(), "rootfs.tar")
	out, err := exec.Command("tar", "-C", rootfs, "-cf", rootfsTar, ".").CombinedOutput()
	assert.NilError(t, err, "tar: %s", out)
	d.run("import", rootfsTar, "busybox:latest")
	berth("import", rootfsTar, "busybox:latest")

	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), buildDockerfile)
	writeFile(t, filepath.Join(ctxDir, "a.txt"), "a\n")
	writeFile(t, filepath.Join(ctxDir, "files/one.txt"), "one\n")
	writeFile(t, filepath.Join(ctxDir, "files/sub/two.txt"), "two\n")
	writeTar(t, filepath.Join(ctxDir, "archive.tar"), map[string]string{"x/in-archive.txt": "inside\n"})

	build := []string{"build", "--network", "none", "--build-arg", "GREETING=hey", "-t", "built:cmp", ctxDir}
	dockerOut, err := d.tryEnv([]string{"DOCKER_BUILDKIT=0"}, build...)
	assert.NilError(t, err)
	t.Logf("docker 20.10:\n%s", dockerOut)
	berthOut := berth(build...)
	t.Logf("berth:\n%s", berthOut)
	// the unused stage is not built by berth (Docker 20.10 builds all)
	assert.Check(t, !strings.Contains(berthOut, "unused-stage-ran"))

	inspect := `{{json .Config}}`
	var want, got map[string]any
	assert.NilError(t, json.Unmarshal([]byte(d.run("image", "inspect", "-f", inspect, "built:cmp")), &want))
	assert.NilError(t, json.Unmarshal([]byte(berth("image", "inspect", "-f", inspect, "built:cmp")), &got))
	for _, k := range []string{"Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "Healthcheck", "StopSignal", "Shell", "OnBuild"} {
		assert.Check(t, is.DeepEqual(got[k], want[k]), "config field %s", k)
	}

	assert.Check(t, is.Equal(berth("image", "inspect", "-f", "{{.Author}}", "built:cmp"), d.run("image", "inspect", "-f", "{{.Author}}", "built:cmp")))

	// What the steps wrote, read back by a container of each image.
	check := `cat /greeting /onbuild.txt /out/artifact /src/one.txt /src/sub/two.txt /unpacked/x/in-archive.txt; ls -ln /src/owned.txt | cut -c1-10,16-27; test -x /copied-busybox && echo copied; pwd; id -u`
	run := []string{"run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", "built:cmp", "-c", check}
	dockerRun := d.run(run...)
	assert.Check(t, is.Equal(berth(run...), dockerRun))
	assert.Check(t, is.Contains(dockerRun, "hey\ntriggered\nbuilt\n"))
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	assert.NilError(t, err)
	_, err = f.WriteString(s)
	assert.NilError(t, err)
	assert.NilError(t, f.Close())
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	assert.NilError(t, os.WriteFile(p, []byte(s), 0o644))
}

func writeTar(t *testing.T, p string, files map[string]string) {
	t.Helper()
	f, err := os.Create(p)
	assert.NilError(t, err)
	tw := tar.NewWriter(f)
	for name, data := range files {
		assert.NilError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(data))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	assert.NilError(t, f.Close())
}
