// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ApplyChanges applies the Dockerfile instructions of `import --change`
// and `commit --change` to cfg, as Docker does: CMD, ENTRYPOINT, ENV,
// EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR. Each change may hold
// several instructions, one a line. CMD, ENTRYPOINT and VOLUME take the
// JSON form or the shell form; ENTRYPOINT clears a CMD the changes did
// not set, as in a Dockerfile. Other instructions (ONBUILD and HEALTHCHECK,
// which an OCI image config cannot hold, included) are
// errdefs.ErrInvalidArgument.
func ApplyChanges(cfg *ocispec.ImageConfig, changes []string) error {
	cmdSet := false
	for _, change := range changes {
		for _, line := range strings.Split(change, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			instr, rest, _ := strings.Cut(line, " ")
			rest = strings.TrimSpace(rest)
			var err error
			switch strings.ToUpper(instr) {
			case "CMD":
				cfg.Cmd, cmdSet = command(rest), true
			case "ENTRYPOINT":
				cfg.Entrypoint = command(rest)
				if !cmdSet {
					cfg.Cmd = nil
				}
			case "ENV":
				err = keyValues("ENV", rest, true, func(k, v string) { cfg.Env = setEnv(cfg.Env, k, v) })
			case "LABEL":
				err = keyValues("LABEL", rest, false, func(k, v string) {
					if cfg.Labels == nil {
						cfg.Labels = map[string]string{}
					}
					cfg.Labels[k] = v
				})
			case "EXPOSE":
				err = expose(cfg, rest)
			case "VOLUME":
				for _, v := range list(rest) {
					if cfg.Volumes == nil {
						cfg.Volumes = map[string]struct{}{}
					}
					cfg.Volumes[v] = struct{}{}
				}
			case "WORKDIR":
				if rest == "" {
					return invalidChange("WORKDIR requires exactly one argument")
				}
				if !path.IsAbs(rest) {
					rest = path.Join("/", cfg.WorkingDir, rest)
				}
				cfg.WorkingDir = path.Clean(rest)
			case "USER":
				if rest == "" {
					return invalidChange("USER requires exactly one argument")
				}
				cfg.User = rest
			case "STOPSIGNAL":
				if rest == "" {
					return invalidChange("STOPSIGNAL requires exactly one argument")
				}
				cfg.StopSignal = rest
			case "ONBUILD", "HEALTHCHECK":
				return invalidChange(strings.ToUpper(instr) + " is not supported: an OCI image config cannot hold it")
			default:
				return invalidChange(instr + " is not a valid change command")
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func invalidChange(msg string) error {
	return fmt.Errorf("%s: %w", msg, errdefs.ErrInvalidArgument)
}

// command reads the JSON form (["a","b"]) or else the shell form, which
// runs under /bin/sh -c.
func command(s string) []string {
	var args []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &args) == nil {
		return args
	}
	return []string{"/bin/sh", "-c", s}
}

// list reads the JSON form or space-separated words (VOLUME).
func list(s string) []string {
	var args []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &args) == nil {
		return args
	}
	return strings.Fields(s)
}

// keyValues reads "k=v k2=v2" (quotes and backslashes as in a shell) and,
// when legacy is true, the old single pair "k v".
func keyValues(instr, s string, legacy bool, set func(k, v string)) error {
	words, err := shellWords(s)
	if err != nil {
		return invalidChange(instr + ": " + err.Error())
	}
	if len(words) == 0 {
		return invalidChange(instr + " requires at least one argument")
	}
	if legacy && !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		set(k, strings.TrimSpace(v))
		return nil
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return invalidChange(fmt.Sprintf("%s names must be followed by '=value': %q", instr, w))
		}
		set(k, v)
	}
	return nil
}

// shellWords splits s into words, honouring single and double quotes and
// backslash escapes.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// expose adds "80", "80/udp" or "8000-8002/tcp" to the exposed ports.
func expose(cfg *ocispec.ImageConfig, s string) error {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return invalidChange("EXPOSE requires at least one argument")
	}
	for _, f := range fields {
		ports, proto, _ := strings.Cut(f, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, isRange := strings.Cut(ports, "-")
		start, err1 := strconv.ParseUint(lo, 10, 16)
		end := start
		var err2 error
		if isRange {
			end, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || end < start || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return invalidChange(fmt.Sprintf("invalid port %q for EXPOSE", f))
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for p := start; p <= end; p++ {
			cfg.ExposedPorts[fmt.Sprintf("%d/%s", p, proto)] = struct{}{}
		}
	}
	return nil
}
