// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// CreateRequest is what "run" and "create" send to POST /containers/create.
type CreateRequest struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// Parse turns the flags and the IMAGE [COMMAND] [ARG...] arguments into a
// create request, as docker's CLI does.
func (o *ContainerOptions) Parse(args []string) (*CreateRequest, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("requires at least 1 argument")
	}
	image, cmd := args[0], args[1:]

	var attachIn, attachOut, attachErr bool
	if len(o.Attach) > 0 {
		for _, a := range o.Attach {
			switch strings.ToLower(a) {
			case "stdin":
				attachIn = true
			case "stdout":
				attachOut = true
			case "stderr":
				attachErr = true
			default:
				return nil, fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a)
			}
		}
	} else {
		attachIn, attachOut, attachErr = o.Stdin, true, true
	}

	env, err := readKVFiles(o.EnvFile, o.Env, true)
	if err != nil {
		return nil, err
	}
	labelList, err := readKVFiles(o.LabelFile, o.Labels, false)
	if err != nil {
		return nil, err
	}

	hc := &container.HostConfig{
		AutoRemove:      o.AutoRemove,
		Privileged:      o.Privileged,
		PublishAllPorts: o.PublishAll,
		ReadonlyRootfs:  o.ReadOnly,
		VolumesFrom:     o.VolumesFrom,
		GroupAdd:        o.GroupAdd,
		DNSSearch:       o.DNSSearch,
		DNSOptions:      o.DNSOption,
		ExtraHosts:      o.AddHost,
		OomScoreAdj:     o.OOMScoreAdj,
		IpcMode:         container.IpcMode(o.IPC),
		PidMode:         container.PidMode(o.PID),
		UTSMode:         container.UTSMode(o.UTS),
		UsernsMode:      container.UsernsMode(o.Userns),
		CgroupnsMode:    container.CgroupnsMode(o.Cgroupns),
		NetworkMode:     container.NetworkMode(o.Network),
		Runtime:         o.Runtime,
		LogConfig:       container.LogConfig{Type: o.LogDriver},
	}
	if hc.NetworkMode == "" {
		hc.NetworkMode = network.NetworkDefault
	}
	for _, d := range o.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--dns\" flag: %s is not an ip address", d, d)
		}
		hc.DNS = append(hc.DNS, a)
	}
	if len(o.LogOpts) > 0 {
		hc.LogConfig.Config = kvMap(o.LogOpts)
	}
	if len(o.Sysctls) > 0 {
		hc.Sysctls = kvMap(o.Sysctls)
	}
	if len(o.StorageOpt) > 0 {
		hc.StorageOpt = kvMap(o.StorageOpt)
	}
	if len(o.Annotations) > 0 {
		hc.Annotations = kvMap(o.Annotations)
	}
	if o.changed("init") {
		b := o.Init
		hc.Init = &b
	}
	if err := o.parseResources(&hc.Resources); err != nil {
		return nil, err
	}
	if o.ShmSize != "" {
		if hc.ShmSize, err = units.RAMInBytes(o.ShmSize); err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--shm-size\" flag: %w", o.ShmSize, err)
		}
	}
	if hc.RestartPolicy, err = parseRestart(o.Restart); err != nil {
		return nil, err
	}
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return nil, fmt.Errorf("conflicting options: cannot specify both --restart and --rm")
	}
	hc.CapAdd, hc.CapDrop = normalizeCaps(o.CapAdd), normalizeCaps(o.CapDrop)
	if hc.SecurityOpt, err = parseSecurityOpts(o.SecurityOpt); err != nil {
		return nil, err
	}
	if len(o.Tmpfs) > 0 {
		hc.Tmpfs = map[string]string{}
		for _, t := range o.Tmpfs {
			dst, opts, _ := strings.Cut(t, ":")
			hc.Tmpfs[dst] = opts
		}
	}

	cfg := &container.Config{
		Hostname:     o.Hostname,
		Domainname:   o.Domainname,
		User:         o.User,
		AttachStdin:  attachIn,
		AttachStdout: attachOut,
		AttachStderr: attachErr,
		Tty:          o.TTY,
		OpenStdin:    o.Stdin,
		StdinOnce:    o.Stdin && attachIn,
		Env:          env,
		Image:        image,
		WorkingDir:   o.Workdir,
		Labels:       kvMap(labelList),
		StopSignal:   o.StopSignal,
	}
	if len(cmd) > 0 {
		cfg.Cmd = cmd
	}
	if o.Entrypoint != "" {
		cfg.Entrypoint = []string{o.Entrypoint}
	} else if o.changed("entrypoint") {
		cfg.Entrypoint = []string{""}
	}
	if o.changed("stop-timeout") {
		t := o.StopTimeout
		cfg.StopTimeout = &t
	}
	if cfg.Healthcheck, err = o.parseHealth(); err != nil {
		return nil, err
	}
	if cfg.ExposedPorts, hc.PortBindings, err = parsePorts(o.Publish, o.Expose); err != nil {
		return nil, err
	}
	if cfg.Volumes, hc.Binds, err = parseVolumes(o.Volumes); err != nil {
		return nil, err
	}
	for _, m := range o.Mounts {
		mnt, err := parseMount(m)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--mount\" flag: %w", m, err)
		}
		hc.Mounts = append(hc.Mounts, mnt)
	}
	for _, d := range o.Devices {
		dm, err := parseDevice(d)
		if err != nil {
			return nil, err
		}
		hc.Devices = append(hc.Devices, dm)
	}

	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	ep := &network.EndpointSettings{Aliases: o.NetworkAlias}
	if o.IPv4 != "" || o.IPv6 != "" {
		ep.IPAMConfig = &network.EndpointIPAMConfig{}
		if o.IPv4 != "" {
			if ep.IPAMConfig.IPv4Address, err = netip.ParseAddr(o.IPv4); err != nil {
				return nil, fmt.Errorf("invalid argument %q for \"--ip\" flag: %w", o.IPv4, err)
			}
		}
		if o.IPv6 != "" {
			if ep.IPAMConfig.IPv6Address, err = netip.ParseAddr(o.IPv6); err != nil {
				return nil, fmt.Errorf("invalid argument %q for \"--ip6\" flag: %w", o.IPv6, err)
			}
		}
	}
	if o.MacAddress != "" {
		if err := ep.MacAddress.UnmarshalText([]byte(o.MacAddress)); err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", o.MacAddress)
		}
	}
	if o.Network != "" {
		nc.EndpointsConfig[o.Network] = ep
	} else if len(ep.Aliases) > 0 || ep.IPAMConfig != nil || len(ep.MacAddress) > 0 {
		nc.EndpointsConfig[string(hc.NetworkMode)] = ep
	}
	return &CreateRequest{Config: cfg, HostConfig: hc, NetworkingConfig: nc}, nil
}

func (o *ContainerOptions) parseResources(r *container.Resources) error {
	var err error
	mem := func(flag, v string) (int64, error) {
		if v == "" {
			return 0, nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil {
			return 0, fmt.Errorf("invalid argument %q for \"%s\" flag: %w", v, flag, err)
		}
		return n, nil
	}
	if r.Memory, err = mem("-m, --memory", o.Memory); err != nil {
		return err
	}
	if o.MemorySwap == "-1" {
		r.MemorySwap = -1
	} else if r.MemorySwap, err = mem("--memory-swap", o.MemorySwap); err != nil {
		return err
	}
	if r.MemoryReservation, err = mem("--memory-reservation", o.MemoryReserve); err != nil {
		return err
	}
	// docker always sends the swappiness, -1 meaning "the default".
	swappiness := o.Swappiness
	r.MemorySwappiness = &swappiness
	if o.changed("oom-kill-disable") {
		b := o.OOMKillDisable
		r.OomKillDisable = &b
	}
	if o.CPUs != "" {
		rat, ok := new(big.Rat).SetString(o.CPUs)
		if !ok {
			return fmt.Errorf("invalid argument %q for \"--cpus\" flag: failed to parse %v as a rational number", o.CPUs, o.CPUs)
		}
		nano := rat.Mul(rat, big.NewRat(1e9, 1))
		if !nano.IsInt() {
			return fmt.Errorf("invalid argument %q for \"--cpus\" flag: value is too precise", o.CPUs)
		}
		r.NanoCPUs = nano.Num().Int64()
	}
	r.CPUShares, r.CPUPeriod, r.CPUQuota = o.CPUShares, o.CPUPeriod, o.CPUQuota
	r.CpusetCpus, r.CpusetMems, r.BlkioWeight = o.CpusetCpus, o.CpusetMems, o.BlkioWeight
	r.CgroupParent = o.CgroupParent
	if o.changed("pids-limit") {
		p := o.PidsLimit
		r.PidsLimit = &p
	}
	for _, u := range o.Ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return fmt.Errorf("invalid argument %q for \"--ulimit\" flag: %w", u, err)
		}
		r.Ulimits = append(r.Ulimits, ul)
	}
	return nil
}

func (o *ContainerOptions) parseHealth() (*container.HealthConfig, error) {
	set := o.HealthCmd != "" || o.HealthInterval != 0 || o.HealthTimeout != 0 || o.HealthStart != 0 ||
		o.HealthStartInt != 0 || o.HealthRetries != 0
	if o.NoHealthcheck {
		if set {
			return nil, fmt.Errorf("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	for _, d := range []struct {
		name string
		v    int64
	}{{"--health-interval", int64(o.HealthInterval)}, {"--health-timeout", int64(o.HealthTimeout)},
		{"--health-start-period", int64(o.HealthStart)}, {"--health-start-interval", int64(o.HealthStartInt)}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%s cannot be negative", d.name)
		}
	}
	if o.HealthRetries < 0 {
		return nil, fmt.Errorf("--health-retries cannot be negative")
	}
	h := &container.HealthConfig{Interval: o.HealthInterval, Timeout: o.HealthTimeout,
		StartPeriod: o.HealthStart, StartInterval: o.HealthStartInt, Retries: o.HealthRetries}
	if o.HealthCmd != "" {
		h.Test = []string{"CMD-SHELL", o.HealthCmd}
	}
	return h, nil
}

func parseRestart(s string) (container.RestartPolicy, error) {
	var p container.RestartPolicy
	if s == "" {
		return p, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	p.Name = container.RestartPolicyMode(name)
	switch p.Name {
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hasCount {
			return p, fmt.Errorf("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
		}
	case container.RestartPolicyOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil {
				return p, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer")
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("invalid restart policy format: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
	}
	return p, nil
}

func normalizeCaps(caps []string) []string {
	var out []string
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	return out
}

// parseSecurityOpts reads seccomp profiles from files, as docker's CLI
// does, so that the daemon receives the profile itself.
func parseSecurityOpts(opts []string) ([]string, error) {
	var out []string
	for _, opt := range opts {
		if opt == "systempaths=unconfined" {
			out = append(out, opt)
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
			if ok {
				opt = k + "=" + v
			}
		}
		if !ok && opt != "no-new-privileges" {
			return nil, fmt.Errorf("invalid --security-opt: %q", opt)
		}
		if k == "seccomp" && v != "unconfined" && v != "builtin" {
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, b); err != nil {
				return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
			}
			opt = "seccomp=" + buf.String()
		}
		out = append(out, opt)
	}
	return out, nil
}

func parseDevice(s string) (container.DeviceMapping, error) {
	parts := strings.Split(s, ":")
	d := container.DeviceMapping{CgroupPermissions: "rwm"}
	switch len(parts) {
	case 3:
		d.CgroupPermissions = parts[2]
		fallthrough
	case 2:
		if validPerms(parts[1]) && len(parts) == 2 {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
		fallthrough
	case 1:
		d.PathOnHost = parts[0]
	default:
		return d, fmt.Errorf("invalid device specification: %s", s)
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !validPerms(d.CgroupPermissions) {
		return d, fmt.Errorf("invalid device mode: %s", d.CgroupPermissions)
	}
	return d, nil
}

func validPerms(m string) bool {
	if m == "" || len(m) > 3 {
		return false
	}
	return strings.Trim(m, "rwm") == ""
}

// readKVFiles reads KEY=VALUE lines from files, then appends the flag
// values. Environment entries without "=" take their value from the
// client's environment when it is set there.
func readKVFiles(files, values []string, isEnv bool) ([]string, error) {
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimLeft(sc.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, kvValue(line, isEnv))
		}
	}
	for _, v := range values {
		out = append(out, kvValue(v, isEnv))
	}
	return out, nil
}

func kvValue(s string, isEnv bool) string {
	if strings.Contains(s, "=") || !isEnv {
		return s
	}
	if v, ok := os.LookupEnv(s); ok {
		return s + "=" + v
	}
	return s
}

func kvMap(kvs []string) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func absPath(p string) string {
	if strings.HasPrefix(p, ".") {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
	}
	return p
}
