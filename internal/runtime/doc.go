// Package runtime is berth's OCI runtime: it turns a bundle (config.json and
// a root filesystem) into an isolated, limited process, and manages that
// process afterwards (start, state, kill, pause, update, exec, delete).
//
// # Processes
//
// The runtime is a library called from short-lived processes (`berth runtime
// create`, the daemon). To make a container it starts the berth binary again
// as `berth init`, from a sealed copy of itself (see exe_linux.go), with a
// SOCK_SEQPACKET socket. A C constructor (package nsenter) joins the
// container's cgroup, joins and creates the namespaces before the Go runtime
// starts, and forks the process that becomes the container; that process receives its configuration over
// the socket, builds the root filesystem, and reports "ready". It then waits
// on the container's start socket until `start` connects, runs the
// startContainer hooks, drops privileges and calls execve(2). The start
// connection is close-on-exec, so `start` reads end-of-file when the exec
// succeeded and an error message when it did not.
//
// # State on disk
//
// Under the runtime root (default /run/berth/runtime), each container has a
// directory named by its ID:
//
//	<root>/<id>/state.json   runc-compatible state plus berth's fields (version 1)
//	<root>/<id>/config.json  the container's spec, read only by the commands that need it
//	<root>/<id>/start.sock   present while the container is "created"
//
// Both files are written to a temporary file and renamed over the old one,
// so a reader never sees half a file. state.json is first written as soon
// as init exists, so that a create killed half-way still leaves what
// `delete --force` needs. The status is not stored: it is derived from the
// init process (alive, zombie or gone, checked against its recorded
// start time so a reused PID is not mistaken for it), the freezer and the
// start socket, so that any fresh process sees the truth.
package runtime
