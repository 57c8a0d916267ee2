// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// freePort returns a free TCP port on 127.0.0.1.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func TestDaemonRefusesPlainTCP(t *testing.T) {
	testutil.RequiresRoot(t)
	d, err := testutil.NewDaemon(berthBin, "-H", "tcp://"+freePort(t))
	assert.NilError(t, err)
	t.Cleanup(d.Cleanup)
	err = d.Start()
	assert.ErrorContains(t, err, "refusing to listen on tcp://")
	assert.Assert(t, is.Contains(err.Error(), "without TLS"))
}

// writeCerts makes a CA and a server and a client certificate for
// 127.0.0.1 in dir, as `docker --tlsverify` expects them.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		assert.NilError(t, err)
		return k
	}
	write := func(name, typ string, der []byte) {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	}
	caKey := key()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	assert.NilError(t, err)
	write("ca.pem", "CERTIFICATE", caDER)
	caCert, err := x509.ParseCertificate(caDER)
	assert.NilError(t, err)
	for i, name := range []string{"server", "client"} {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature}
		if name == "server" {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		assert.NilError(t, err)
		kb, err := x509.MarshalECPrivateKey(k)
		assert.NilError(t, err)
		prefix := name + "-"
		if name == "client" {
			prefix = "" // the docker CLI reads cert.pem and key.pem
		}
		write(prefix+"cert.pem", "CERTIFICATE", der)
		write(prefix+"key.pem", "EC PRIVATE KEY", kb)
	}
}

func TestDaemonTLSAndConfigFile(t *testing.T) {
	testutil.RequiresRoot(t)
	certs := t.TempDir()
	writeCerts(t, certs)
	addr := freePort(t)
	d, err := testutil.NewDaemon(berthBin, "-H", "tcp://"+addr, "--tlsverify",
		"--tlscacert", filepath.Join(certs, "ca.pem"), "--tlscert", filepath.Join(certs, "server-cert.pem"),
		"--tlskey", filepath.Join(certs, "server-key.pem"))
	assert.NilError(t, err)
	t.Cleanup(d.Cleanup)
	// structured logs as JSON, from the config file
	cfg, _ := json.Marshal(map[string]any{"log-format": "json"})
	assert.NilError(t, os.WriteFile(filepath.Join(d.Dir, "daemon.json"), cfg, 0o644))
	assert.NilError(t, d.Start())

	cmd := exec.Command("docker", "--tlsverify", "-H", "tcp://"+addr, "version", "--format", "{{.Server.Version}}")
	cmd.Env = append(os.Environ(), "DOCKER_CERT_PATH="+certs, "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Equal(t, strings.TrimSpace(string(out)), "0.1.0")

	// without a client certificate the handshake is refused
	cmd = exec.Command("docker", "-H", "tcp://"+addr, "--tls", "--tlscacert", filepath.Join(certs, "ca.pem"), "version")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	out, err = cmd.CombinedOutput()
	assert.Assert(t, err != nil, string(out))

	// the unix socket answers too, and is root-only
	assert.Equal(t, okOn(t, d, "version", "--format", "{{.Server.Version}}"), "0.1.0")
	fi, err := os.Stat(d.Sock)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm()&0o077, os.FileMode(0), "socket mode %v", fi.Mode())

	// log lines are JSON objects
	first, _, _ := strings.Cut(d.Log(), "\n")
	var line map[string]any
	assert.NilError(t, json.Unmarshal([]byte(first), &line), first)
	assert.Assert(t, line["msg"] != nil)
}

func TestDaemonConfigConflict(t *testing.T) {
	testutil.RequiresRoot(t)
	d, err := testutil.NewDaemon(berthBin)
	assert.NilError(t, err)
	t.Cleanup(d.Cleanup)
	cfg, _ := json.Marshal(map[string]any{"data-root": d.DataRoot})
	assert.NilError(t, os.WriteFile(filepath.Join(d.Dir, "daemon.json"), cfg, 0o644))
	err = d.Start()
	assert.ErrorContains(t, err, "the following directives are specified both as a flag and in the configuration file: data-root")
}
