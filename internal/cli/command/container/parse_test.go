// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

// parseRunLine parses a "run" flag line the way the command does.
func parseRunLine(t *testing.T, line string) (*CreateRequest, error) {
	t.Helper()
	var o RunOptions
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.BoolVarP(&o.Detach, "detach", "d", false, "")
	fs.BoolVar(&o.SigProxy, "sig-proxy", true, "")
	fs.StringVar(&o.DetachKeys, "detach-keys", "", "")
	o.AddFlags(fs)
	if err := fs.Parse(strings.Fields(line)); err != nil {
		return nil, err
	}
	return o.ParseRun(fs.Args())
}

// TestRunRequest checks the container create request built from run flag
// lines against golden files (go test -update rewrites them).
func TestRunRequest(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"minimal", "busybox"},
		{"detach-name-cmd", "-d --name web --rm busybox sleep 100"},
		{"interactive-tty", "-i -t --detach-keys ctrl-a,b busybox sh"},
		{"attach-stdout", "-a stdout busybox true"},
		{"env-user-workdir", "-e A=1 -e B= -u 1000:1000 -w /tmp --hostname h1 --domainname example.org busybox env"},
		{"ports", "-p 80 -p 8080:80/tcp -p 127.0.0.1:9000-9001:9000-9001/udp -p [::1]:53:53/udp --expose 7000-7001 -P busybox"},
		{"volumes", "-v /data -v /src:/dst:ro -v named:/vol --mount type=bind,src=/a,dst=/b,readonly --mount type=tmpfs,dst=/t,tmpfs-size=64m --tmpfs /run:size=1m busybox"},
		{"resources", "--memory 512m --memory-swap -1 --cpus 1.5 --cpu-shares 512 --cpuset-cpus 0-1 --pids-limit 100 --ulimit nofile=1024:2048 --shm-size 64m busybox"},
		{"security", "--read-only --cap-add net_admin --cap-drop ALL --privileged --security-opt no-new-privileges --security-opt label=disable busybox"},
		{"namespaces", "--network none --ipc host --pid host --uts host --userns host --cgroupns private busybox"},
		{"restart-labels", "--restart on-failure:3 --label a=b --label c --init --stop-signal SIGINT --stop-timeout 5 busybox"},
		{"entrypoint", "--entrypoint /bin/sh busybox -c true"},
		{"entrypoint-empty", "--entrypoint= busybox"},
		{"health", "--health-cmd true --health-interval 5s --health-timeout 2s --health-retries 3 --health-start-period 1s busybox"},
		{"no-healthcheck", "--no-healthcheck busybox"},
		{"devices", "--device /dev/fuse --device /dev/sda:/dev/xvda:r busybox"},
		{"network-alias", "--network mynet --network-alias db --ip 10.1.2.3 busybox"},
		{"dns-hosts", "--dns 1.1.1.1 --dns-search example.org --dns-option ndots:2 --add-host h:10.0.0.1 --group-add audio --sysctl net.ipv4.ip_forward=1 busybox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRunLine(t, tc.line)
			assert.NilError(t, err)
			b, err := json.MarshalIndent(req, "", "  ")
			assert.NilError(t, err)
			golden.Assert(t, string(b)+"\n", "TestRunRequest/"+tc.name+".golden")
		})
	}
}

func TestRunRequestErrors(t *testing.T) {
	for _, tc := range []struct{ line, err string }{
		{"--rm --restart always busybox", "conflicting options: cannot specify both --restart and --rm"},
		{"--restart bogus busybox", "invalid restart policy format: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
		{"--restart always:3 busybox", "invalid restart policy format: maximum retry count can only be used with 'on-failure'"},
		{"-d -a stdout busybox", "conflicting options: cannot specify both --attach and --detach"},
		{"-a bogus busybox", `invalid argument "bogus" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`},
		{"--memory 12x busybox", `invalid argument "12x" for "-m, --memory" flag: invalid suffix: 'x'`},
		{"--cpus abc busybox", `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number`},
		{"-p 80:abc busybox", "invalid containerPort: abc"},
		{"--no-healthcheck --health-cmd x busybox", "--no-healthcheck conflicts with --health-* options"},
		{"--mount type=bind,src=/a busybox", `invalid argument "type=bind,src=/a" for "--mount" flag: target is required`},
		{"--device /dev/a:/dev/b:xyz busybox", "invalid device mode: xyz"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := parseRunLine(t, tc.line)
			assert.Error(t, err, tc.err)
		})
	}
}

func TestExecRequest(t *testing.T) {
	o := ExecOptions{Interactive: true, TTY: true, User: "1000", Workdir: "/tmp", Env: []string{"A=1"}, DetachKeys: "ctrl-x"}
	r, err := o.ExecRequest([]string{"sh", "-c", "true"})
	assert.NilError(t, err)
	assert.Check(t, r.AttachStdin && r.AttachStdout && r.AttachStderr && r.TTY)
	assert.DeepEqual(t, r.Env, []string{"A=1"})
	o.Detach = true
	r, err = o.ExecRequest([]string{"true"})
	assert.NilError(t, err)
	assert.Check(t, !r.AttachStdin && !r.AttachStdout && !r.AttachStderr)
}
