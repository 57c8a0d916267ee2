// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryVersion is the CNCF distribution release the tests run against;
// hack/deps.sh installs it with
// `go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2`.
const RegistryVersion = "v3.1.2"

// registryBinary finds the registry binary: $(go env GOPATH)/bin first,
// where hack/deps.sh installs it, then $PATH.
var registryBinary = sync.OnceValues(func() (string, error) {
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "registry")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return exec.LookPath("registry")
})

// StartRegistry starts a real CNCF distribution registry on 127.0.0.1 with
// its storage in a temporary directory, waits until /v2/ answers, and
// stops it when the test ends. It returns the registry's host:port.
//
// A missing registry binary skips the test, except in CI (CI=true), where
// it is a broken setup and fails it.
func StartRegistry(t testing.TB) (host string) {
	t.Helper()
	return startRegistry(t, "")
}

// StartRegistryAuth is StartRegistry with htpasswd basic authentication:
// only user with password pass may pull and push.
func StartRegistryAuth(t testing.TB, user, pass string) (host string) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("htpasswd for %s: %v", user, err)
	}
	return startRegistry(t, user+":"+string(hash)+"\n")
}

func startRegistry(t testing.TB, htpasswd string) string {
	t.Helper()
	if _, err := RegistryBinary(); err != nil {
		msg := "registry binary not found in $(go env GOPATH)/bin or $PATH: run hack/deps.sh " +
			"(go install github.com/distribution/distribution/v3/cmd/registry@" + RegistryVersion + ")"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", msg, err)
		}
		t.Skip(msg)
	}
	r, err := RunRegistry(t.TempDir(), htpasswd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r.Host
}

// RegistryBinary finds the registry binary: $(go env GOPATH)/bin first,
// where hack/deps.sh installs it, then $PATH.
func RegistryBinary() (string, error) { return registryBinary() }

// Registry is a running registry started by RunRegistry.
type Registry struct {
	Host   string // 127.0.0.1:port
	cmd    *exec.Cmd
	exited chan struct{}
}

// RunRegistry starts a registry on a free 127.0.0.1 port with its config
// and storage in dir (and htpasswd basic auth when htpasswd is not empty),
// and waits until /v2/ answers. The caller stops it with Stop. Benchmarks
// use it directly; tests use StartRegistry.
func RunRegistry(dir, htpasswd string) (*Registry, error) {
	bin, err := RegistryBinary()
	if err != nil {
		return nil, fmt.Errorf("registry binary not found in $(go env GOPATH)/bin or $PATH: run hack/deps.sh: %w", err)
	}
	auth := ""
	if htpasswd != "" {
		file := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(file, []byte(htpasswd), 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", file)
	}
	// The port is picked by the kernel and released for the registry to
	// take; another process may grab it in between, so retry a few times.
	var lastErr error
	for range 5 {
		host, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), host, auth)
		configPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
			return nil, err
		}
		r, err := runRegistry(bin, configPath, host)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start registry: %w", lastErr)
}

// Stop stops the registry (SIGTERM, then SIGKILL after 5 s) and waits.
func (r *Registry) Stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// runRegistry starts bin and waits until http://host/v2/ answers 200 or
// 401.
func runRegistry(bin, configPath, host string) (*Registry, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", configPath)
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	// No telemetry exporters: there is no network.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	// It dies with us, and a ^C to a benchmark reaches the benchmark only.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Registry{Host: host, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r, nil
			}
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("registry on %s exited: %s", host, stderr.String())
		case <-ctx.Done():
			r.Stop()
			return nil, fmt.Errorf("registry on %s did not answer /v2/: %s", host, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
