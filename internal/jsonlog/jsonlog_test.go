// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package jsonlog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

type line struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// readLines decodes a log file with encoding/json.
func readLines(t *testing.T, path string) []line {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	var out []line
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if l == "" {
			continue
		}
		assert.Assert(t, strings.HasSuffix(l, "\n"), "unterminated line %q", l)
		var e line
		assert.NilError(t, json.Unmarshal([]byte(l), &e), "line %q", l)
		out = append(out, e)
	}
	return out
}

func logs(lines []line) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Log)
	}
	return out
}

func TestStreamWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLine)
	tests := []struct {
		name   string
		writes []string
		flush  bool
		want   []string
	}{
		{name: "lines", writes: []string{"a\nb\n"}, want: []string{"a\n", "b\n"}},
		{name: "joined", writes: []string{"a", "b", "c\nd"}, want: []string{"abc\n"}},
		{name: "flushed", writes: []string{"a\nb"}, flush: true, want: []string{"a\n", "b"}},
		{name: "empty line", writes: []string{"\n"}, want: []string{"\n"}},
		{name: "exactly max", writes: []string{long[:MaxLine-1] + "\n"}, want: []string{long[:MaxLine-1] + "\n"}},
		{name: "split", writes: []string{long + "yz\n"}, want: []string{long, "yz\n"}},
		{name: "split across writes", writes: []string{long[:10], long[10:], "\n"}, want: []string{long, "\n"}},
		{name: "twice max", writes: []string{long + long + "\n"}, want: []string{long, long, "\n"}},
		{name: "escapes", writes: []string{"\"q\" \\ <a&b> \t\r\x01 é \xff \u2028\n"}, want: []string{"\"q\" \\ <a&b> \t\r\x01 é \ufffd \u2028\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			w, err := NewWriter(path, 0, 0)
			assert.NilError(t, err)
			s := w.Stream("stderr")
			for _, p := range tc.writes {
				n, err := s.Write([]byte(p))
				assert.NilError(t, err)
				assert.Equal(t, n, len(p))
			}
			if tc.flush {
				assert.NilError(t, s.Flush())
			}
			assert.NilError(t, w.Close())
			lines := readLines(t, path)
			assert.DeepEqual(t, logs(lines), tc.want)
			for _, l := range lines {
				assert.Check(t, is.Equal(l.Stream, "stderr"))
				assert.Check(t, is.Len(l.Time, len("2026-11-23T08:00:00.123456789Z")), l.Time)
			}
		})
	}
}

func TestEncodingMatchesDocker(t *testing.T) {
	ts := time.Date(2026, 11, 23, 8, 0, 0, 123456000, time.UTC)
	got := string(appendEntry(nil, Entry{Log: []byte("hi <there>\n"), Stream: "stdout", Time: ts}))
	assert.Equal(t, got, `{"log":"hi \u003cthere\u003e\n","stream":"stdout","time":"2026-11-23T08:00:00.123456000Z"}`+"\n")
}

func TestRotation(t *testing.T) {
	entry := len(appendEntry(nil, Entry{Log: []byte("0\n"), Stream: "stdout", Time: time.Now()}))
	tests := []struct {
		name     string
		maxFiles int
		lines    int
		want     map[string][]string // file suffix -> logs
	}{
		{name: "three files", maxFiles: 3, lines: 7, want: map[string][]string{
			"": {"6\n"}, ".1": {"4\n", "5\n"}, ".2": {"2\n", "3\n"},
		}},
		{name: "two files", maxFiles: 2, lines: 4, want: map[string][]string{
			"": {"2\n", "3\n"}, ".1": {"0\n", "1\n"},
		}},
		{name: "one file truncates", maxFiles: 1, lines: 5, want: map[string][]string{
			"": {"4\n"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "log")
			// Two entries fit, the third rotates.
			w, err := NewWriter(path, int64(2*entry), tc.maxFiles)
			assert.NilError(t, err)
			for i := range tc.lines {
				assert.NilError(t, w.WriteEntry(Entry{Log: []byte{byte('0' + i), '\n'}, Stream: "stdout", Time: time.Now()}))
			}
			assert.NilError(t, w.Close())
			names, err := filepath.Glob(path + "*")
			assert.NilError(t, err)
			assert.Equal(t, len(names), len(tc.want), "%v", names)
			for suffix, want := range tc.want {
				assert.DeepEqual(t, logs(readLines(t, path+suffix)), want)
			}
			// Read returns them all in order.
			var got []string
			err = Read(t.Context(), path, ReadOpts{Tail: -1}, func(e Entry) error {
				got = append(got, string(e.Log))
				return nil
			})
			assert.NilError(t, err)
			var all []string
			for _, s := range []string{".2", ".1", ""} {
				all = append(all, tc.want[s]...)
			}
			assert.DeepEqual(t, got, all)
		})
	}
}

// writeLog writes entries "0\n" … "n-1\n" one second apart from base,
// rotating after every four.
func writeLog(t *testing.T, n int, base time.Time) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	entry := len(appendEntry(nil, Entry{Log: []byte("00\n"), Stream: "stdout", Time: base}))
	w, err := NewWriter(path, int64(4*entry), 10)
	assert.NilError(t, err)
	for i := range n {
		e := Entry{Log: []byte(itoa(i) + "\n"), Stream: "stdout", Time: base.Add(time.Duration(i) * time.Second)}
		assert.NilError(t, w.WriteEntry(e))
	}
	assert.NilError(t, w.Close())
	return path
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }

func TestRead(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seq := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, itoa(i)+"\n")
		}
		return out
	}
	tests := []struct {
		name string
		opts ReadOpts
		want []string
	}{
		{name: "all", opts: ReadOpts{Tail: -1}, want: seq(0, 10)},
		{name: "tail 3", opts: ReadOpts{Tail: 3}, want: seq(7, 10)},
		{name: "tail across files", opts: ReadOpts{Tail: 6}, want: seq(4, 10)},
		{name: "tail more than all", opts: ReadOpts{Tail: 50}, want: seq(0, 10)},
		{name: "tail 0", opts: ReadOpts{Tail: 0}, want: nil},
		{name: "since", opts: ReadOpts{Tail: -1, Since: base.Add(5 * time.Second)}, want: seq(5, 10)},
		{name: "until", opts: ReadOpts{Tail: -1, Until: base.Add(2 * time.Second)}, want: seq(0, 3)},
		{name: "since and until", opts: ReadOpts{Tail: -1, Since: base.Add(3 * time.Second), Until: base.Add(5 * time.Second)}, want: seq(3, 6)},
		{name: "tail then since", opts: ReadOpts{Tail: 4, Since: base.Add(7 * time.Second)}, want: seq(7, 10)},
	}
	path := writeLog(t, 10, base)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := Read(t.Context(), path, tc.opts, func(e Entry) error {
				got = append(got, string(e.Log))
				return nil
			})
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
	t.Run("missing", func(t *testing.T) {
		err := Read(t.Context(), filepath.Join(t.TempDir(), "none"), ReadOpts{Tail: -1}, func(Entry) error {
			t.Fatal("entry from a missing log")
			return nil
		})
		assert.NilError(t, err)
	})
}

// TestFollow follows a log while it is written and rotated, and stops
// once the producer is done and everything was read.
func TestFollow(t *testing.T) {
	tests := []struct {
		name    string
		tail    int
		before  int // entries written before Read starts
		after   int // entries written while following
		maxSize int64
	}{
		{name: "new only", tail: 1, before: 3, after: 5},
		{name: "tail and new", tail: 2, before: 3, after: 5},
		{name: "across rotation", tail: -1, before: 2, after: 20, maxSize: 300},
		{name: "log made later", tail: -1, before: 0, after: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			var w *Writer
			write := func(i int) {
				if w == nil {
					var err error
					w, err = NewWriter(path, tc.maxSize, 100)
					assert.NilError(t, err)
				}
				assert.NilError(t, w.WriteEntry(Entry{Log: []byte(itoa(i) + "\n"), Stream: "stdout", Time: time.Now()}))
			}
			for i := range tc.before {
				write(i)
			}
			done := make(chan struct{})
			started := make(chan struct{})
			entries := make(chan string, 100)
			result := make(chan error, 1)
			go func() {
				close(started)
				result <- Read(context.Background(), path, ReadOpts{Tail: tc.tail, Follow: true, Done: done}, func(e Entry) error {
					entries <- string(e.Log)
					return nil
				})
			}()
			<-started
			var want []string
			shown := tc.tail
			if shown < 0 || shown > tc.before {
				shown = tc.before
			}
			for i := tc.before - shown; i < tc.before; i++ {
				want = append(want, itoa(i)+"\n")
			}
			// Wait for the tail before writing more, so that the new
			// entries are not part of it.
			var got []string
			for range want {
				got = append(got, <-entries)
			}
			for i := tc.before; i < tc.before+tc.after; i++ {
				write(i)
				want = append(want, itoa(i)+"\n")
			}
			assert.NilError(t, w.Close())
			close(done)
			assert.NilError(t, <-result)
			close(entries)
			for e := range entries {
				got = append(got, e)
			}
			assert.DeepEqual(t, got, want)
		})
	}
}

func TestFollowCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() { result <- Read(ctx, path, ReadOpts{Tail: -1, Follow: true}, func(Entry) error { return nil }) }()
	cancel()
	assert.ErrorIs(t, <-result, context.Canceled)
}
