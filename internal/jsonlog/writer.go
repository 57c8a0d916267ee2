// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package jsonlog

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxLine is the longest text one entry holds; longer lines are split.
const MaxLine = 16 * 1024

// timeFormat is RFC 3339 with a fixed nine-digit fraction, as Docker writes it.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Entry is one line of a log.
type Entry struct {
	// Log is the text, ending in "\n" unless the line was split or
	// unfinished.
	Log []byte
	// Stream is "stdout" or "stderr".
	Stream string
	// Time is when the text was read from the container.
	Time time.Time
}

// Writer appends entries to a log file and rotates it. It is safe for
// concurrent use.
type Writer struct {
	mu       sync.Mutex
	path     string
	maxSize  int64
	maxFiles int
	f        *os.File
	size     int64
}

// NewWriter opens (or creates) the log at path for appending. A maxSize
// above zero rotates the log when it would grow past maxSize bytes,
// keeping at most maxFiles files.
func NewWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	w := &Writer{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := w.open(os.O_APPEND); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open(flag int) error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|flag, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// bufPool holds encoding buffers, so that an idle container's writer
// holds none.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteEntry appends e to the log as one line, rotating first if needed.
// Entries longer than MaxLine are written as they are: splitting is the
// job of StreamWriter.
func (w *Writer) WriteEntry(e Entry) error {
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	b.Reset()
	b.Write(appendEntry(b.AvailableBuffer(), e))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(b.Len()) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b.Bytes())
	w.size += int64(n)
	return err
}

// rotate shifts the rotated files up by one and starts a new log, or
// truncates the log when only one file is kept.
func (w *Writer) rotate() error {
	w.f.Close()
	w.f = nil
	if w.maxFiles <= 1 {
		return w.open(os.O_TRUNC)
	}
	os.Remove(w.path + "." + strconv.Itoa(w.maxFiles-1))
	for i := w.maxFiles - 2; i >= 1; i-- {
		err := os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	return w.open(os.O_EXCL)
}

// Close closes the log file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// appendEntry encodes e as a JSON line, escaping like encoding/json
// (HTML characters, U+2028/U+2029, invalid UTF-8 as U+FFFD) without its
// reflection and allocations.
func appendEntry(b []byte, e Entry) []byte {
	b = append(b, `{"log":"`...)
	b = appendString(b, e.Log)
	b = append(b, `","stream":"`...)
	b = appendString(b, []byte(e.Stream))
	b = append(b, `","time":"`...)
	b = e.Time.UTC().AppendFormat(b, timeFormat)
	return append(b, "\"}\n"...)
}

const hex = "0123456789abcdef"

func appendString(b, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// StreamWriter splits one stream's output into entries: one per line,
// lines longer than MaxLine in several. A line's start is kept until its
// end arrives; Flush writes it as it is.
type StreamWriter struct {
	w       *Writer
	stream  string
	partial []byte // allocated only while a line is unfinished
}

// Stream returns a StreamWriter that writes entries of stream to w.
func (w *Writer) Stream(stream string) *StreamWriter {
	return &StreamWriter{w: w, stream: stream}
}

// Write writes every complete line of p (with what was kept of it) as
// entries, and keeps the rest. It fails only if the log cannot be written.
func (s *StreamWriter) Write(p []byte) (int, error) {
	now := time.Now()
	n := len(p)
	for len(p) > 0 {
		room := MaxLine - len(s.partial)
		i := bytes.IndexByte(p, '\n')
		end := room // a full entry without "\n"
		switch {
		case i >= 0 && i < room:
			end = i + 1
		case i < 0 && len(p) < room:
			s.partial = append(s.partial, p...)
			return n, nil
		}
		line := p[:end]
		if s.partial != nil {
			line = append(s.partial, line...)
			s.partial = nil
		}
		if err := s.w.WriteEntry(Entry{Log: line, Stream: s.stream, Time: now}); err != nil {
			return n, err
		}
		p = p[end:]
	}
	return n, nil
}

// Flush writes the unfinished line, if any, as an entry without "\n".
func (s *StreamWriter) Flush() error {
	if len(s.partial) == 0 {
		return nil
	}
	line := s.partial
	s.partial = nil
	return s.w.WriteEntry(Entry{Log: line, Stream: s.stream, Time: time.Now()})
}
