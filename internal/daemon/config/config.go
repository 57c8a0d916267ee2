// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package config is the daemon's configuration: defaults, the JSON config
// file (daemon.json, dockerd's field names where they mean the same) and
// its validation. Command-line flags override the file.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Defaults.
const (
	DefaultHost     = "unix:///run/berth/berth.sock"
	DefaultDataRoot = "/var/lib/berth"
	DefaultExecRoot = "/run/berth"
	DefaultFile     = "/etc/berth/daemon.json"
	DefaultBridge   = "berth0"
)

// Config is the daemon's configuration.
type Config struct {
	Hosts    []string `json:"hosts,omitempty"`
	DataRoot string   `json:"data-root,omitempty"`
	ExecRoot string   `json:"exec-root,omitempty"`
	Pidfile  string   `json:"pidfile,omitempty"`
	Debug    bool     `json:"debug,omitempty"`
	// LogFormat is "text" or "json" (structured logs on stderr).
	LogFormat string `json:"log-format,omitempty"`
	// CgroupParent is the cgroup under which containers are made.
	CgroupParent string `json:"cgroup-parent,omitempty"`
	// InsecureRegistries are registries reached over plain HTTP or
	// unverified TLS, besides loopback ones.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	// LogOpts are the json-file log options ("max-size", "max-file").
	LogOpts map[string]string `json:"log-opts,omitempty"`

	// Bridge is the default bridge's name and BIP its address with the
	// subnet's length (dockerd's --bridge and --bip); IPForward turns on
	// IPv4 forwarding and IPTables lets berth keep its nftables table
	// (published ports, masquerade, isolation), as dockerd's switches.
	Bridge    string `json:"bridge,omitempty"`
	BIP       string `json:"bip,omitempty"`
	IPForward bool   `json:"ip-forward"`
	IPTables  bool   `json:"iptables"`

	TLS       bool   `json:"tls,omitempty"`
	TLSVerify bool   `json:"tlsverify,omitempty"`
	TLSCACert string `json:"tlscacert,omitempty"`
	TLSCert   string `json:"tlscert,omitempty"`
	TLSKey    string `json:"tlskey,omitempty"`
}

// Default returns the default configuration.
func Default() *Config {
	return &Config{
		DataRoot:     DefaultDataRoot,
		ExecRoot:     DefaultExecRoot,
		CgroupParent: "/berth",
		LogFormat:    "text",
		Bridge:       DefaultBridge,
		IPForward:    true,
		IPTables:     true,
	}
}

// Load reads the JSON config file at path into c. A missing file at the
// default path is not an error; unknown fields are.
func (c *Config) Load(path string, explicit bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return nil
		}
		return fmt.Errorf("read config file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// FileKeys returns the settings the config file at path names.
func FileKeys(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	keys := map[string]bool{}
	for k := range m {
		keys[k] = true
	}
	return keys, nil
}

// Validate checks c and fills in derived defaults.
func (c *Config) Validate() error {
	if len(c.Hosts) == 0 {
		c.Hosts = []string{DefaultHost}
	}
	for _, p := range []*string{&c.DataRoot, &c.ExecRoot} {
		if *p == "" || !filepath.IsAbs(*p) {
			return fmt.Errorf("%q must be an absolute path", *p)
		}
		*p = filepath.Clean(*p)
	}
	if c.CgroupParent != "" && !strings.HasPrefix(c.CgroupParent, "/") {
		c.CgroupParent = "/" + c.CgroupParent
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if len(c.Bridge) > 15 {
		return fmt.Errorf("invalid bridge name %q: longer than 15 characters", c.Bridge)
	}
	if c.Pidfile == "" {
		c.Pidfile = filepath.Join(c.ExecRoot, "berth.pid")
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("invalid log format %q: must be text or json", c.LogFormat)
	}
	for _, h := range c.Hosts {
		if strings.HasPrefix(h, "tcp://") && !(c.TLS || c.TLSVerify) {
			return fmt.Errorf("refusing to listen on %s without TLS: give --tlsverify with --tlscacert, --tlscert and --tlskey", h)
		}
	}
	return nil
}
