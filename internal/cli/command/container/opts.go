// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package container holds the container commands: run, create, start,
// stop, ps, logs, exec and the rest of "docker container".
package container

import (
	"time"

	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/pflag"
)

// ContainerOptions are the flags shared by "run" and "create".
type ContainerOptions struct {
	Attach         []string
	Stdin, TTY     bool
	Env, EnvFile   []string
	Labels         []string
	LabelFile      []string
	Workdir, User  string
	Publish        []string
	PublishAll     bool
	Expose         []string
	Volumes        []string
	Mounts         []string
	Tmpfs          []string
	VolumesFrom    []string
	Network        string
	NetworkAlias   []string
	IPv4, IPv6     string
	MacAddress     string
	Hostname       string
	Domainname     string
	DNS, DNSSearch []string
	DNSOption      []string
	AddHost        []string
	Memory         string
	MemorySwap     string
	MemoryReserve  string
	Swappiness     int64
	OOMKillDisable bool
	OOMScoreAdj    int
	CPUs           string
	CPUShares      int64
	CPUPeriod      int64
	CPUQuota       int64
	CpusetCpus     string
	CpusetMems     string
	PidsLimit      int64
	BlkioWeight    uint16
	ShmSize        string
	Restart        string
	ReadOnly       bool
	CapAdd         []string
	CapDrop        []string
	Privileged     bool
	SecurityOpt    []string
	Ulimits        []string
	Entrypoint     string
	Init           bool
	Devices        []string
	GroupAdd       []string
	Sysctls        []string
	IPC, PID, UTS  string
	Userns         string
	Cgroupns       string
	CgroupParent   string
	StopSignal     string
	StopTimeout    int
	HealthCmd      string
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	HealthStart    time.Duration
	HealthStartInt time.Duration
	HealthRetries  int
	NoHealthcheck  bool
	LogDriver      string
	LogOpts        []string
	Runtime        string
	Name           string
	AutoRemove     bool
	Platform       string
	Pull           string
	Quiet          bool
	CIDFile        string
	Annotations    []string
	StorageOpt     []string

	flags *pflag.FlagSet
}

// AddFlags registers the run/create flags on fs, with docker's names,
// shorthands and defaults.
func (o *ContainerOptions) AddFlags(fs *pflag.FlagSet) {
	o.flags = fs
	fs.SetInterspersed(false)
	fs.StringSliceVarP(&o.Attach, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	fs.BoolVarP(&o.Stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&o.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	command.ListVar(fs, &o.Env, "env", "e", "list", "Set environment variables")
	command.ListVar(fs, &o.EnvFile, "env-file", "", "list", "Read in a file of environment variables")
	command.ListVar(fs, &o.Labels, "label", "l", "list", "Set meta data on a container")
	command.ListVar(fs, &o.LabelFile, "label-file", "", "list", "Read in a line delimited file of labels")
	fs.StringVarP(&o.Workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	command.ListVar(fs, &o.Publish, "publish", "p", "list", "Publish a container's port(s) to the host")
	fs.BoolVarP(&o.PublishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	command.ListVar(fs, &o.Expose, "expose", "", "list", "Expose a port or a range of ports")
	command.ListVar(fs, &o.Volumes, "volume", "v", "list", "Bind mount a volume")
	command.ListVar(fs, &o.Mounts, "mount", "", "mount", "Attach a filesystem mount to the container")
	command.ListVar(fs, &o.Tmpfs, "tmpfs", "", "list", "Mount a tmpfs directory")
	command.ListVar(fs, &o.VolumesFrom, "volumes-from", "", "list", "Mount volumes from the specified container(s)")
	fs.StringVar(&o.Network, "network", "", "Connect a container to a network")
	fs.StringVar(&o.Network, "net", "", "Connect a container to a network")
	fs.MarkHidden("net")
	command.ListVar(fs, &o.NetworkAlias, "network-alias", "", "list", "Add network-scoped alias for the container")
	fs.StringVar(&o.IPv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&o.IPv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fs.StringVar(&o.MacAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringVarP(&o.Hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&o.Domainname, "domainname", "", "Container NIS domain name")
	command.ListVar(fs, &o.DNS, "dns", "", "list", "Set custom DNS servers")
	command.ListVar(fs, &o.DNSSearch, "dns-search", "", "list", "Set custom DNS search domains")
	command.ListVar(fs, &o.DNSOption, "dns-option", "", "list", "Set DNS options")
	command.ListVar(fs, &o.AddHost, "add-host", "", "list", "Add a custom host-to-IP mapping (host:ip)")
	fs.StringVarP(&o.Memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&o.MemorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&o.MemoryReserve, "memory-reservation", "", "Memory soft limit")
	fs.Int64Var(&o.Swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fs.BoolVar(&o.OOMKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fs.IntVar(&o.OOMScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.StringVar(&o.CPUs, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&o.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&o.CPUPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&o.CPUQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.StringVar(&o.CpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&o.CpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&o.PidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.Uint16Var(&o.BlkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	fs.StringVar(&o.ShmSize, "shm-size", "", "Size of /dev/shm")
	fs.StringVar(&o.Restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.BoolVar(&o.ReadOnly, "read-only", false, "Mount the container's root filesystem as read only")
	command.ListVar(fs, &o.CapAdd, "cap-add", "", "list", "Add Linux capabilities")
	command.ListVar(fs, &o.CapDrop, "cap-drop", "", "list", "Drop Linux capabilities")
	fs.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to this container")
	command.ListVar(fs, &o.SecurityOpt, "security-opt", "", "list", "Security Options")
	command.ListVar(fs, &o.Ulimits, "ulimit", "", "ulimit", "Ulimit options")
	fs.StringVar(&o.Entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.BoolVar(&o.Init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	command.ListVar(fs, &o.Devices, "device", "", "list", "Add a host device to the container")
	command.ListVar(fs, &o.GroupAdd, "group-add", "", "list", "Add additional groups to join")
	command.ListVar(fs, &o.Sysctls, "sysctl", "", "map", "Sysctl options")
	fs.StringVar(&o.IPC, "ipc", "", "IPC mode to use")
	fs.StringVar(&o.PID, "pid", "", "PID namespace to use")
	fs.StringVar(&o.UTS, "uts", "", "UTS namespace to use")
	fs.StringVar(&o.Userns, "userns", "", "User namespace to use")
	fs.StringVar(&o.Cgroupns, "cgroupns", "", "Cgroup namespace to use (host|private)")
	fs.StringVar(&o.CgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.StringVar(&o.StopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&o.StopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.StringVar(&o.HealthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&o.HealthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.DurationVar(&o.HealthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&o.HealthStart, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&o.HealthStartInt, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.IntVar(&o.HealthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.BoolVar(&o.NoHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	fs.StringVar(&o.LogDriver, "log-driver", "", "Logging driver for the container")
	command.ListVar(fs, &o.LogOpts, "log-opt", "", "list", "Log driver options")
	fs.StringVar(&o.Runtime, "runtime", "", "Runtime to use for this container")
	fs.StringVar(&o.Name, "name", "", "Assign a name to the container")
	fs.BoolVar(&o.AutoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.StringVar(&o.Platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.StringVar(&o.Pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "Suppress the pull output")
	fs.StringVar(&o.CIDFile, "cidfile", "", "Write the container ID to the file")
	command.ListVar(fs, &o.Annotations, "annotation", "", "map", "Add an annotation to the container (passed through to the OCI runtime)")
	command.ListVar(fs, &o.StorageOpt, "storage-opt", "", "list", "Storage driver options for the container")
}

func (o *ContainerOptions) changed(name string) bool {
	return o.flags != nil && o.flags.Changed(name)
}
