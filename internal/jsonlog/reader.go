// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package jsonlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReadOpts select what Read returns.
type ReadOpts struct {
	// Tail is how many of the last existing entries to return; -1 (any
	// negative number) returns all of them. Entries written while
	// following are always returned.
	Tail int
	// Since and Until, when not zero, drop the entries before Since and
	// end the read at the first entry after Until.
	Since, Until time.Time
	// Follow keeps reading as the log grows, across rotations, until ctx
	// is done, Until has passed, or Done is closed and everything written
	// has been read.
	Follow bool
	// Done is closed when the log's producer has finished (the container
	// exited).
	Done <-chan struct{}
}

// errStop ends a read early without an error.
var errStop = errors.New("stop")

// maxEntry bounds one encoded line: MaxLine bytes of text escaped at
// worst six bytes each, plus the fields.
const maxEntry = 6*MaxLine + 256

// Read calls fn with the entries of the log at path (and its rotated
// files, oldest first) that opts select. An error from fn ends the read
// and is returned. A log that does not exist has no entries, unless
// following, when Read waits for it.
func Read(ctx context.Context, path string, opts ReadOpts, fn func(Entry) error) error {
	var w *watcher
	if opts.Follow {
		var err error
		if w, err = newWatcher(filepath.Dir(path)); err != nil {
			return err
		}
		defer w.close()
	}
	files, err := openFiles(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	emit := func(line []byte) error {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return nil
		}
		e, err := decode(line)
		if err != nil {
			return nil // a line cut short by a crash: skip it
		}
		if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
			return nil
		}
		if !opts.Until.IsZero() && e.Time.After(opts.Until) {
			return errStop
		}
		return fn(e)
	}
	err = readExisting(files, opts.Tail, emit)
	if err == nil && opts.Follow {
		var cur *os.File
		if n := len(files); n > 0 && files[n-1].Name() == path {
			cur = files[n-1]
		}
		err = follow(ctx, path, cur, w, opts, emit)
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// openFiles opens path's rotated files, oldest first, then path itself.
// They are all opened before any is read, so that a rotation during the
// read loses nothing.
func openFiles(path string) ([]*os.File, error) {
	nums := rotatedNumbers(path)
	var files []*os.File
	for _, n := range nums {
		if f, err := os.Open(path + "." + strconv.Itoa(n)); err == nil {
			files = append(files, f)
		}
	}
	f, err := os.Open(path)
	if err == nil {
		files = append(files, f)
	} else if !os.IsNotExist(err) {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("open log: %w", err)
	}
	return files, nil
}

// readExisting passes the complete lines of files to emit: all of them,
// or the last tail. A line being written (no "\n" yet) is left for
// follow: each file is left positioned after its last complete line.
func readExisting(files []*os.File, tail int, emit func([]byte) error) error {
	var ring [][]byte
	next := 0
	for _, f := range files {
		r := bufio.NewReaderSize(f, 64*1024)
		var off int64
		for {
			line, err := readLine(r)
			if err != nil {
				if _, serr := f.Seek(off, io.SeekStart); serr != nil {
					return serr
				}
				if err == io.EOF {
					break
				}
				return err
			}
			off += int64(len(line))
			switch {
			case tail < 0:
				if err := emit(line); err != nil {
					return err
				}
			case tail == 0:
			case len(ring) < tail:
				ring = append(ring, bytes.Clone(line))
			default:
				ring[next] = bytes.Clone(line)
				next = (next + 1) % tail
			}
		}
	}
	for i := range ring {
		if err := emit(ring[(next+i)%len(ring)]); err != nil {
			return err
		}
	}
	return nil
}

// readLine returns the next complete line, or io.EOF before an
// unfinished one. The line is valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == nil {
		return line, nil
	}
	if err == bufio.ErrBufferFull {
		// Longer than any entry: gather the rest and let decode reject it.
		buf := bytes.Clone(line)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		if err == nil {
			return buf, nil
		}
	}
	return nil, io.EOF
}

// follow reads what is appended to the log. cur is the open log file
// (positioned after its last complete line), or nil if it did not exist.
func follow(ctx context.Context, path string, cur *os.File, w *watcher, opts ReadOpts, emit func([]byte) error) error {
	var until <-chan time.Time
	if !opts.Until.IsZero() {
		t := time.NewTimer(time.Until(opts.Until))
		defer t.Stop()
		until = t.C
	}
	var (
		r      *bufio.Reader
		off    int64
		opened *os.File // a file follow opened itself, closed here
	)
	defer func() {
		if opened != nil {
			opened.Close()
		}
	}()
	reset := func(f *os.File) {
		cur, r = f, bufio.NewReaderSize(f, 64*1024)
		off, _ = f.Seek(0, io.SeekCurrent)
	}
	if cur != nil {
		reset(cur)
	}
	done := opts.Done
	for {
		finished := false
		if done != nil {
			select {
			case <-done:
				// Read once more to the end, then stop.
				finished = true
			default:
			}
		}
		if cur != nil {
			for {
				line, err := readLine(r)
				if err != nil {
					break
				}
				off += int64(len(line))
				if err := emit(line); err != nil {
					return err
				}
			}
			// Leave an unfinished line to be read again when complete.
			if _, err := cur.Seek(off, io.SeekStart); err != nil {
				return err
			}
			r.Reset(cur)
		}
		// Rotated or truncated? A rotated file was read to its end above.
		if fi, err := os.Stat(path); err == nil {
			if cur == nil || !sameFile(cur, fi) {
				if f, err := openNewer(path, cur); err == nil {
					if opened != nil {
						opened.Close()
					}
					opened = f
					reset(f)
					continue
				}
			} else if fi.Size() < off {
				if _, err := cur.Seek(0, io.SeekStart); err == nil {
					reset(cur)
				}
				continue
			}
		}
		if finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-until:
			return nil
		case <-done:
		case <-w.events:
		}
	}
}

// openNewer opens the file written after cur: if cur was rotated to
// <log>.k, <log>.k-1 (<log> for k = 1), so that a follower that fell
// behind by more than one rotation still reads every file.
//
// The writer may be rotating while this looks: its renames move every
// file up by one, the oldest first, so for a moment a number is missing
// or cur is found where its successor was. The successor opened is
// therefore checked afterwards: if cur still has the number it was found
// at, no rename touched the two files in between and the file opened is
// the right one; otherwise this looks again. A cur that is found nowhere
// was removed (the follower fell behind by every kept file): it goes on
// with the newest file.
func openNewer(path string, cur *os.File) (*os.File, error) {
	if cur == nil {
		return os.Open(path)
	}
	name := func(k int) string {
		if k == 0 {
			return path
		}
		return path + "." + strconv.Itoa(k)
	}
	missing := 0
	for range 1000 {
		k := 0 // cur's number
		for _, n := range rotatedNumbers(path) {
			if fi, err := os.Stat(name(n)); err == nil && sameFile(cur, fi) {
				k = n
				break
			}
		}
		if k > 0 {
			f, err := os.Open(name(k - 1))
			if err == nil {
				if fi, err := os.Stat(name(k)); err == nil && sameFile(cur, fi) {
					return f, nil
				}
				f.Close()
			}
		} else if missing++; missing > 3 {
			break
		}
		time.Sleep(time.Millisecond) // a rotation is under way
	}
	return os.Open(path)
}

// rotatedNumbers lists the numbers of path's rotated files (path.1,
// path.2, ...), highest (oldest) first.
func rotatedNumbers(path string) []int {
	matches, _ := filepath.Glob(path + ".*")
	var nums []int
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimPrefix(m, path+".")); err == nil && n > 0 {
			nums = append(nums, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(nums)))
	return nums
}

func sameFile(f *os.File, fi os.FileInfo) bool {
	cur, err := f.Stat()
	return err == nil && os.SameFile(cur, fi)
}

// decode parses one line.
func decode(line []byte) (Entry, error) {
	var raw struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Entry{}, err
	}
	return Entry{Log: []byte(raw.Log), Stream: raw.Stream, Time: raw.Time}, nil
}
