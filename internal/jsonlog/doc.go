// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package jsonlog writes and reads container logs in Docker's json-file
// format, so that logs written by berth read like Docker's and tools that
// parse Docker's log files work on berth's.
//
// # Format
//
// A log is a text file with one JSON object per line:
//
//	{"log":"hello\n","stream":"stdout","time":"2026-11-23T08:00:00.123456789Z"}
//
// "log" is the text of one line of the container's output, with its "\n";
// "stream" is "stdout" or "stderr"; "time" is when the monitor read it, in
// UTC with exactly nine fractional digits. A line longer than [MaxLine]
// bytes is split into several entries; only the last carries the "\n". A
// line still unfinished when its stream ends is written without one.
//
// # Rotation
//
// With a maximum size, a log that would grow past it is rotated before the
// entry is written: <log>.N-1 is removed, <log>.i is renamed to
// <log>.i+1, <log> to <log>.1, and a new <log> is started, so that at
// most N files exist (N = the maximum number of files). With N ≤ 1 the
// log is truncated instead. Readers read <log>.N-1 … <log>.1, <log>, in
// that order.
package jsonlog
