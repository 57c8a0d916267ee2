// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package monitor is berth's container monitor: one long-lived process
// per daemon (`berth monitor --dir DIR`) that is the parent of every
// container's process, holds its stdio or pty, writes its log, records
// its exit status, and serves attach streams. Containers therefore keep
// running, and their exits are still recorded, while the daemon restarts
// or is killed (live restore).
//
// One process serves every container because a Go process costs about
// 0.55 MB on its own; per container the monitor holds a few file
// descriptors, one or two parked goroutines and no buffer while the
// container is idle (reads borrow pooled buffers).
//
// # Starting a container through the monitor
//
// The daemon passes [Client.Launcher] (and, for a terminal, [Client.Console])
// to the runtime's Create or Exec. The monitor starts the runtime's
// intermediate process as its own child, with the files the runtime gives
// it at the same numbers and with the monitor's pipes (or /dev/null, for a
// terminal) as stdio. The intermediate process forks the container's
// process and exits; the monitor is a child subreaper (prctl(2)
// PR_SET_CHILD_SUBREAPER), so the container's process becomes its child.
// The daemon then calls [Client.Watch] with the container's pid. The
// monitor reaps every child with wait4(-1) and keeps the status of
// children nobody watches yet, so an exit before Watch is not lost.
//
// A process's exit is complete once its status is known and its output is
// drained (end of file on the pipes, EIO on the pty master, or
// drainTimeout after the exit when something else still holds the
// pipes). The monitor then writes the exit record, sends an Exit event to
// every connected client, and ends the process's attach streams.
//
// # Files
//
//	DIR/monitor.pid        lock file (flock) holding the monitor's pid: one monitor per DIR
//	DIR/monitor.sock       the socket (SOCK_SEQPACKET, mode 0600)
//	DIR/monitor.log        the monitor's own messages
//	DIR/exits/<id>         one exit record per process, JSON {"id","pid","code","exitedAt","tty"},
//	                       written to a temporary file and renamed; "/" and "%" in the
//	                       ID are written as %2F and %25. Records are read back when the
//	                       monitor starts and removed by Forget.
//	DIR/exits.tmp/<xx>/    where the temporary files are made (fsutil.TempDirs), emptied
//	                       when the monitor starts
//
// # Protocol
//
// Every message on the socket is one SOCK_SEQPACKET datagram whose first
// byte is its kind. Requests ('q') and replies ('r') are JSON objects
// matched by a sequence number; files travel with a request as
// SCM_RIGHTS. Exit events ('e', JSON) go to every connection that is not
// an attach stream. A connection that sent an "attach" request becomes
// that process's attach stream: the monitor sends output as 1 (stdout)
// or 2 (stderr) followed by the bytes, and 'x' when the output has ended;
// the client sends 'i' followed by bytes for the process's stdin and 'c'
// when its stdin has ended. The monitor never blocks on a client: a
// client whose socket buffer is full is disconnected.
package monitor
