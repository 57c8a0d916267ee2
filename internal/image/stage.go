// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/archive"
)

// A stager unpacks layers while their blobs are being stored, so that a
// load or a pull reads, hashes and writes each layer once and uses a
// second core for the unpacking, instead of storing every blob and then
// reading each back to unpack it.
//
// Every blob that might be a layer is copied, as the content store's
// writer consumes it, through a pipe into a goroutine that unpacks it
// with archive.Apply into a directory of its own under <root>/unpack.
// That needs no parent: with overlay whiteouts, a layer's tree does not
// depend on the layers below it (Apply resolves names inside its target
// only), which is also why layers can be unpacked in any order and at
// the same time. unpack then prepares the snapshot on its parent as
// usual, renames the staged tree onto the snapshot's empty directory and
// commits it.
//
// Safety is that of unpacking from the stored blob: the staged tree is
// used only when the blob was committed (so its digest was verified) and
// the digest of the uncompressed stream is the config's diff_id; for an
// uncompressed blob that stream is the blob itself. Anything else (not a
// tar, a failed unpack, a blob that was already stored and so never
// streamed, a rename across file systems) falls back to unpacking the
// stored blob. Staged trees are named by nothing; a crash leaves them to
// New, which empties <root>/unpack.
type stager struct {
	ctx context.Context
	dir string

	mu     sync.Mutex
	byBlob map[digest.Digest]*staging
	all    []*staging
}

// staging is one blob being unpacked.
type staging struct {
	st   *stager
	pipe *chunkPipe
	once sync.Once // starts the goroutine at the first Write
	done chan struct{}

	// Set by the goroutine before done is closed.
	dir        string // the unpacked tree; "" when not a layer or failed
	compressed bool
	diffID     digest.Digest // of the uncompressed stream, when compressed
	err        error

	// Set by finish.
	blob   digest.Digest
	stored bool
	failed bool // a Write to the pipe failed: the stream is incomplete
}

func (s *Store) newStager(ctx context.Context) *stager {
	return &stager{ctx: ctx, dir: s.unpackDir, byBlob: map[digest.Digest]*staging{}}
}

// layer returns a writer that gets a copy of a blob's bytes as they are
// stored; finish tells how that ended. A nil stager returns nil.
func (st *stager) layer() *staging {
	if st == nil {
		return nil
	}
	g := &staging{st: st, pipe: newChunkPipe(), done: make(chan struct{})}
	st.mu.Lock()
	st.all = append(st.all, g)
	st.mu.Unlock()
	return g
}

// tee returns a reader of r that copies what it reads to g; with a nil
// g, r itself.
func (g *staging) tee(r io.Reader) io.Reader {
	if g == nil {
		return r
	}
	return io.TeeReader(r, g)
}

// Write never fails, so that a failed unpack never fails the store of
// the blob; it only makes the staged tree unusable.
func (g *staging) Write(p []byte) (int, error) {
	if g.failed {
		return len(p), nil
	}
	g.once.Do(func() { go g.run() })
	if _, err := g.pipe.Write(p); err != nil {
		g.failed = true
	}
	return len(p), nil
}

// finish ends the stream: blob is the digest the content store verified
// and committed, or err says why it did not. It does not wait for the
// unpacking.
func (g *staging) finish(blob digest.Digest, err error) {
	if g == nil {
		return
	}
	g.once.Do(func() { close(g.done) }) // never written: nothing staged
	g.pipe.closeWrite(err)
	if err != nil {
		return
	}
	g.st.mu.Lock()
	g.blob, g.stored = blob, true
	if _, dup := g.st.byBlob[blob]; !dup {
		g.st.byBlob[blob] = g
	}
	g.st.mu.Unlock()
}

// run unpacks the stream if it looks like a layer, then reads it to its
// end so that the writer never blocks.
func (g *staging) run() {
	defer close(g.done)
	br := bufio.NewReaderSize(g.pipe, 64<<10)
	defer io.Copy(io.Discard, br)
	head, _ := br.Peek(512)
	g.compressed = archive.IsCompressed(head)
	if !g.compressed && !(len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))) {
		return // a config, a manifest, or a tar old enough to lack the magic
	}
	dir, err := os.MkdirTemp(g.st.dir, "layer-")
	if err == nil {
		// What an empty snapshot directory has, for layers whose tar has
		// no entry for its root.
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		err = g.apply(dir, br)
	}
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		g.err = err
		g.pipe.closeRead()
		return
	}
	g.dir = dir
}

func (g *staging) apply(dir string, r io.Reader) error {
	dr, err := archive.Decompress(r)
	if err != nil {
		return err
	}
	defer dr.Close()
	var d digest.Digester
	if g.compressed {
		d = digest.Canonical.Digester()
		dr = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(dr, d.Hash()), dr}
	}
	if _, err := archive.Apply(g.st.ctx, dir, dr, archive.ApplyOptions{}); err != nil {
		return err
	}
	if d != nil {
		g.diffID = d.Digest()
	}
	return nil
}

// take waits for the blob's staged tree and hands it over with the
// digest of its uncompressed content. ok is false when there is none:
// the caller unpacks the stored blob instead.
func (st *stager) take(ctx context.Context, blob digest.Digest) (dir string, diffID digest.Digest, ok bool, err error) {
	if st == nil {
		return "", "", false, nil
	}
	st.mu.Lock()
	g := st.byBlob[blob]
	delete(st.byBlob, blob)
	st.mu.Unlock()
	if g == nil {
		return "", "", false, nil
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return "", "", false, ctx.Err()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if g.dir == "" || g.failed {
		return "", "", false, nil
	}
	dir, g.dir = g.dir, ""
	if !g.compressed {
		return dir, g.blob, true, nil
	}
	return dir, g.diffID, true, nil
}

// close stops what is still unpacking and removes every staged tree
// that was not taken.
func (st *stager) close() error {
	if st == nil {
		return nil
	}
	st.mu.Lock()
	all := st.all
	st.mu.Unlock()
	var errs []error
	for _, g := range all {
		g.finish("", errStagerClosed) // a no-op on a finished stream
		<-g.done
		st.mu.Lock()
		dir := g.dir
		g.dir = ""
		st.mu.Unlock()
		if dir != "" {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove staged layer: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

var errStagerClosed = errors.New("unpack while storing: stopped")

// chunkPipe is io.Pipe with a buffer: Write copies p and returns unless
// chunkPipeDepth chunks are already waiting, so that the goroutine that
// stores a blob and the one that unpacks it run at the same time instead
// of taking turns.
type chunkPipe struct {
	ch        chan []byte
	stop      chan struct{} // closed by closeRead
	stopOnce  sync.Once
	closeOnce sync.Once
	werr      error  // why the writer stopped; read after ch is closed
	chunk     []byte // being read, from its start (a pooled buffer)
	off       int
}

const (
	chunkSize      = 1 << 20
	chunkPipeDepth = 8
)

var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

var errReaderClosed = errors.New("unpack while storing: reader closed")

func newChunkPipe() *chunkPipe {
	return &chunkPipe{ch: make(chan []byte, chunkPipeDepth), stop: make(chan struct{})}
}

func (p *chunkPipe) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		c := *chunks.Get().(*[]byte)
		m := copy(c, b)
		select {
		case p.ch <- c[:m]:
		case <-p.stop:
			return n, errReaderClosed
		}
		n += m
		b = b[m:]
	}
	return n, nil
}

// closeWrite ends the stream: the reader gets err, or io.EOF for nil,
// after what was written. Only the first call counts.
func (p *chunkPipe) closeWrite(err error) {
	p.closeOnce.Do(func() {
		p.werr = err
		close(p.ch)
	})
}

func (p *chunkPipe) Read(b []byte) (int, error) {
	if p.chunk == nil {
		select {
		case <-p.stop:
			return 0, errReaderClosed
		default:
		}
		c, ok := <-p.ch
		if !ok {
			if p.werr != nil {
				return 0, p.werr
			}
			return 0, io.EOF
		}
		p.chunk, p.off = c, 0
	}
	n := copy(b, p.chunk[p.off:])
	p.off += n
	if p.off == len(p.chunk) {
		c := p.chunk[:chunkSize]
		chunks.Put(&c)
		p.chunk = nil
	}
	return n, nil
}

// closeRead makes the writer's pending and later Writes fail, and the
// reader's later Reads.
func (p *chunkPipe) closeRead() {
	p.stopOnce.Do(func() { close(p.stop) })
}
