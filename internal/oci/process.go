// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/sys/user"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// command returns the container's command line: the image's config merged
// into the container's as moby's merge and mergeAndVerifyConfig do. An
// Entrypoint set in the container config (even to "") replaces the
// image's entrypoint and drops the image's Cmd, unless the container
// config also sets Cmd. An Entrypoint of [""] means none.
func command(cfg *container.Config, img *ocispec.ImageConfig) ([]string, error) {
	entrypoint, cmd := []string(cfg.Entrypoint), []string(cfg.Cmd)
	if img != nil && len(entrypoint) == 0 {
		if len(cmd) == 0 {
			cmd = img.Cmd
		}
		if cfg.Entrypoint == nil {
			entrypoint = img.Entrypoint
		}
	}
	if len(entrypoint) == 1 && entrypoint[0] == "" {
		entrypoint = nil
	}
	args := append(append([]string{}, entrypoint...), cmd...)
	if len(args) == 0 {
		return nil, invalid(errNoCommand)
	}
	return args, nil
}

// environment is moby's merge of the image's Env into the container's
// followed by CreateDaemonEnvironment: PATH (the default unless the
// container or the image sets one), HOSTNAME, TERM=xterm with a TTY, then
// the container's variables and the image's that the container does not
// override. A later variable replaces an earlier one of the same name in
// place.
func environment(cfg *container.Config, img *ocispec.ImageConfig, hostname string, links []string) []string {
	env := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname}
	if cfg.Tty {
		env = append(env, "TERM=xterm")
	}
	env = append(env, links...)
	merged := append([]string{}, cfg.Env...)
	if img != nil {
		for _, ie := range img.Env {
			if !hasEnv(cfg.Env, envKey(ie)) {
				merged = append(merged, ie)
			}
		}
	}
	for _, e := range merged {
		k := envKey(e)
		if i := envIndex(env, k); i >= 0 {
			if strings.Contains(e, "=") {
				env[i] = e
			} else {
				// "FOO" without a value removes FOO, as in Docker.
				env = append(env[:i], env[i+1:]...)
			}
			continue
		}
		if strings.Contains(e, "=") {
			env = append(env, e)
		}
	}
	return env
}

func envKey(e string) string { k, _, _ := strings.Cut(e, "="); return k }

func envIndex(env []string, key string) int {
	for i, e := range env {
		if envKey(e) == key {
			return i
		}
	}
	return -1
}

func hasEnv(env []string, key string) bool { return envIndex(env, key) >= 0 }

// resolveUser turns the user spec ("", "name", "uid", "name:group",
// "uid:gid", …) into ids using the container's /etc/passwd and
// /etc/group, as moby's getUser: the primary group is the first of the
// additional groups, followed by the user's supplementary groups from
// /etc/group and then --group-add (names or numbers). Missing files are
// fine for numeric ids.
func resolveUser(rootfs, spec string, groupAdd []string) (specs.User, error) {
	var u specs.User
	passwd, err := securejoin.SecureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return u, err
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return u, err
	}
	eu, err := user.GetExecUserPath(spec, nil, passwd, group)
	if err != nil {
		return u, invalid(err)
	}
	u.UID, u.GID = uint32(eu.Uid), uint32(eu.Gid)
	u.AdditionalGids = []uint32{u.GID}
	var extra []int
	if len(groupAdd) > 0 {
		extra, err = user.GetAdditionalGroupsPath(groupAdd, group)
		if err != nil {
			return u, invalidf("%v", err)
		}
		// the library returns them in map order: a stable order makes the
		// same container config give the same spec
		slices.Sort(extra)
	}
	for _, g := range append(eu.Sgids, extra...) {
		u.AdditionalGids = append(u.AdditionalGids, uint32(g))
	}
	return u, nil
}

// umask is HostConfig.Umask or Docker's default 0022.
func umask(hc *container.HostConfig) *uint32 {
	m := uint32(0o022)
	if hc.Umask != nil {
		m = *hc.Umask
	}
	return &m
}
