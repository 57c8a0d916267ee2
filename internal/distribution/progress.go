// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// Status words of progress events, Docker's own.
const (
	StatusWaiting            = "Waiting"
	StatusDownloading        = "Downloading"
	StatusDownloadComplete   = "Download complete"
	StatusAlreadyExists      = "Already exists"
	StatusPreparing          = "Preparing"
	StatusPushing            = "Pushing"
	StatusPushed             = "Pushed"
	StatusLayerAlreadyExists = "Layer already exists"
	StatusMountedFrom        = "Mounted from" // followed by " <repository>"
)

// Progress is one event about one layer.
type Progress struct {
	// ID is the short form Docker shows: the first 12 hex digits.
	ID     string
	Digest digest.Digest
	// Status is one of the Status* words ("Mounted from library/x").
	Status string
	// Current and Total are bytes, set while Downloading or Pushing.
	Current, Total int64
}

// reportEvery is how many bytes pass between two Downloading or Pushing
// events for one layer.
const reportEvery = 512 << 10

// progressSink serializes calls to the caller's callback, so it needs no
// locking of its own.
type progressSink struct {
	mu sync.Mutex
	fn func(Progress)
}

func newSink(fn func(Progress)) *progressSink { return &progressSink{fn: fn} }

func (s *progressSink) send(d digest.Digest, status string, current, total int64) {
	if s.fn == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn(Progress{ID: shortID(d), Digest: d, Status: status, Current: current, Total: total})
}

func shortID(d digest.Digest) string {
	hex := d.Encoded()
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}

// countingReader reports status events while bytes pass.
type countingReader struct {
	r        io.Reader
	sink     *progressSink
	digest   digest.Digest
	status   string
	n, total int64
	last     int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n-c.last >= reportEvery || (err == io.EOF && c.n != c.last) {
		c.last = c.n
		c.sink.send(c.digest, c.status, c.n, c.total)
	}
	return n, err
}
