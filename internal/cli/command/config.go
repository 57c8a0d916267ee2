// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package command

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/cli/imageref"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// IndexServer is the address Docker Hub credentials are stored under.
const IndexServer = "https://index.docker.io/v1/"

// ConfigFile is the part of ~/.docker/config.json that berth uses. Fields
// it does not know are kept as they were.
type ConfigFile struct {
	Auths map[string]AuthEntry `json:"auths"`
	rest  map[string]json.RawMessage
	path  string
}

// AuthEntry is one stored credential: "auth" is base64(user:password).
type AuthEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// LoadConfig reads config.json from the configuration directory; a
// missing file is an empty configuration.
func (c *Cli) LoadConfig() (*ConfigFile, error) {
	cf := &ConfigFile{Auths: map[string]AuthEntry{}, rest: map[string]json.RawMessage{},
		path: filepath.Join(c.ConfigDir(), "config.json")}
	b, err := os.ReadFile(cf.path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cf.rest); err != nil {
		return nil, err
	}
	if a, ok := cf.rest["auths"]; ok {
		if err := json.Unmarshal(a, &cf.Auths); err != nil {
			return nil, err
		}
		if cf.Auths == nil {
			cf.Auths = map[string]AuthEntry{}
		}
	}
	return cf, nil
}

// Save writes the file crash-safely (temporary file and rename), mode 0600.
func (cf *ConfigFile) Save() error {
	a, err := json.Marshal(cf.Auths)
	if err != nil {
		return err
	}
	cf.rest["auths"] = a
	b, err := json.MarshalIndent(cf.rest, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cf.path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(cf.path), ".config.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), cf.path)
}

// Path is the file's location.
func (cf *ConfigFile) Path() string { return cf.path }

// AuthConfig returns the stored credentials for a registry.
func (cf *ConfigFile) AuthConfig(server string) registry.AuthConfig {
	ac := registry.AuthConfig{ServerAddress: server}
	e, ok := cf.Auths[server]
	if !ok {
		for k, v := range cf.Auths {
			if ConvertToHostname(k) == ConvertToHostname(server) {
				e, ok = v, true
				break
			}
		}
	}
	if !ok {
		return ac
	}
	if b, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
		ac.Username, ac.Password, _ = strings.Cut(string(b), ":")
	}
	ac.IdentityToken = e.IdentityToken
	return ac
}

// ConvertToHostname strips the scheme and path of a registry address.
func ConvertToHostname(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://")
	h, _, _ := strings.Cut(s, "/")
	return h
}

// RegistryServer is the key credentials for the registry of an image
// reference are stored under.
func RegistryServer(ref string) string {
	named, err := imageref.ParseNormalized(ref)
	if err != nil {
		return IndexServer
	}
	d := named.Domain
	if d == "docker.io" {
		return IndexServer
	}
	return d
}

// EncodedAuth returns the X-Registry-Auth value for an image reference.
func (c *Cli) EncodedAuth(ref string) (string, error) {
	cf, err := c.LoadConfig()
	if err != nil {
		return "", err
	}
	return authconfig.Encode(cf.AuthConfig(RegistryServer(ref)))
}
