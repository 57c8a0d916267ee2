// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/testsuite"
)

// The tests below re-execute the test binary as a child that works on a
// store until it is killed. The child's role and store come from these
// variables.
const (
	childEnv = "BERTH_CONTENT_TEST_CHILD"
	rootEnv  = "BERTH_CONTENT_TEST_ROOT"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "crash":
		childErr(crashChild(os.Getenv(rootEnv)))
	case "hold":
		childErr(holdChild(os.Getenv(rootEnv)))
	default:
		childErr(fmt.Errorf("unknown child %q", os.Getenv(childEnv)))
	}
}

func childErr(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// crashBlobs is the fixed set of blobs the crash child writes; blob k is
// always written through ingest "blob-<k>" or "wb-<k>", so any ingest's
// data must be a prefix of its blob.
const crashBlobs = 10

func crashBlob(k int) ([]byte, digest.Digest) {
	return testsuite.Blob(uint64(k), (k*397_123)%1_000_000+1)
}

func crashRef(ref string) (int, bool) {
	var k int
	if _, err := fmt.Sscanf(ref, "blob-%d", &k); err == nil {
		return k, true
	}
	if _, err := fmt.Sscanf(ref, "wb-%d", &k); err == nil {
		return k, true
	}
	return 0, false
}

// crashChild writes, resumes, abandons, commits and deletes blobs for ever.
// It returns only on an error, which fails the test.
func crashChild(root string) error {
	ctx := context.Background()
	s, err := content.New(root)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	for {
		k := r.IntN(crashBlobs)
		b, dgst := crashBlob(k)
		switch r.IntN(8) {
		case 0:
			if err := s.Delete(ctx, dgst); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
		case 1:
			err := content.WriteBlob(ctx, s, fmt.Sprint("wb-", k), bytes.NewReader(b), int64(len(b)), dgst)
			if err != nil {
				return err
			}
		default:
			w, err := s.Writer(ctx, fmt.Sprint("blob-", k), dgst, int64(len(b)))
			if errdefs.IsAlreadyExists(err) {
				continue
			} else if err != nil {
				return err
			}
			off := w.Offset()
			if w.Digest() != digest.FromBytes(b[:off]) {
				return fmt.Errorf("resumed blob-%d at %d with digest %s", k, off, w.Digest())
			}
			stop := int64(len(b))
			if r.IntN(3) == 0 {
				stop = off + r.Int64N(stop-off+1) // abandon part way
			}
			for off < stop {
				n := min(stop-off, 1+r.Int64N(64<<10))
				if _, err := w.Write(b[off : off+n]); err != nil {
					return err
				}
				off += n
			}
			if off == int64(len(b)) {
				if err := w.Commit(ctx, int64(len(b)), dgst); err != nil && !errdefs.IsAlreadyExists(err) {
					return err
				}
			}
			if err := w.Close(); err != nil {
				return err
			}
		}
	}
}

// TestCrashSafety kills a writing process at random points and checks after
// each kill that every file under blobs/ hashes to its name, and that every
// ingest left behind holds a prefix of its blob and can be resumed to a
// commit or aborted.
func TestCrashSafety(t *testing.T) {
	root := t.TempDir()
	s, err := content.New(root)
	assert.NilError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	kills := 60
	if testing.Short() {
		kills = 15
	}
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=crash", rootEnv+"="+root)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		assert.NilError(t, cmd.Start())
		time.Sleep(time.Duration(5+r.IntN(60)) * time.Millisecond)
		assert.NilError(t, cmd.Process.Kill())
		err := cmd.Wait()
		var exit *exec.ExitError
		assert.Assert(t, errors.As(err, &exit), "child ended before it was killed: %v: %s", err, stderr.String())
		assert.Assert(t, exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL, "child: %v: %s", err, stderr.String())

		checkBlobsDir(t, root)
		if i%5 == 4 {
			finishIngests(t, s, r)
		}
	}
	finishIngests(t, s, r)
	entries, err := os.ReadDir(filepath.Join(root, "ingest"))
	assert.NilError(t, err)
	assert.Check(t, is.Len(entries, 0), "every ingest resumed or aborted")
}

// checkBlobsDir reads blobs/ directly: nothing but files named by the
// digest of their content.
func checkBlobsDir(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	assert.NilError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		assert.NilError(t, err)
		got := digest.FromBytes(b)
		assert.Check(t, is.Equal(got.Encoded(), e.Name()), "blob file %s holds %d bytes hashing to %s", e.Name(), len(b), got)
	}
}

// finishIngests resumes and commits, or aborts, every ingest left behind.
func finishIngests(t *testing.T, s *content.Store, r *rand.Rand) {
	t.Helper()
	ctx := t.Context()
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	for _, ref := range refs {
		k, ok := crashRef(ref)
		assert.Assert(t, ok, "unexpected ingest %q", ref)
		b, dgst := crashBlob(k)
		if r.IntN(2) == 0 {
			assert.NilError(t, s.Abort(ctx, ref))
			continue
		}
		// Without the expected digest, so that the ingest opens even when
		// the blob was committed meanwhile.
		w, err := s.Writer(ctx, ref, "", 0)
		assert.NilError(t, err)
		off := w.Offset()
		assert.Check(t, off <= int64(len(b)))
		assert.Check(t, is.Equal(w.Digest(), digest.FromBytes(b[:off])), "ingest %q resumed at %d", ref, off)
		_, err = w.Write(b[off:])
		assert.NilError(t, err)
		err = w.Commit(ctx, int64(len(b)), dgst)
		assert.Check(t, err == nil || errdefs.IsAlreadyExists(err), "%v", err)
		assert.NilError(t, w.Close())
		testsuite.CheckBlob(t, s, dgst, b)
	}
}

// holdChild opens a Writer, says "ready" and waits to be killed.
func holdChild(root string) error {
	s, err := content.New(root)
	if err != nil {
		return err
	}
	w, err := s.Writer(context.Background(), "held", "", 0)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("written by the child")); err != nil {
		return err
	}
	fmt.Println("ready")
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// TestLockAcrossProcesses checks that a ref held by another process is
// unavailable, and free again once that process dies without cleaning up.
func TestLockAcrossProcesses(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=hold", rootEnv+"="+root)
	stdin, err := cmd.StdinPipe()
	assert.NilError(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	assert.NilError(t, err)
	cmd.Stderr = os.Stderr
	assert.NilError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	assert.NilError(t, err)
	assert.Equal(t, line, "ready\n")

	ctx := t.Context()
	s, err := content.New(root)
	assert.NilError(t, err)
	_, err = s.Writer(ctx, "held", "", 0)
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
	assert.Check(t, errdefs.IsUnavailable(s.Abort(ctx, "held")))
	w, err := s.Writer(ctx, "free", "", 0)
	assert.NilError(t, err)
	assert.NilError(t, w.Close())

	assert.NilError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	w, err = s.Writer(ctx, "held", "", 0)
	assert.NilError(t, err, "a dead process's lock is released")
	defer w.Close()
	assert.Check(t, is.Equal(w.Offset(), int64(len("written by the child"))))
	assert.Check(t, is.Equal(w.Digest(), digest.FromString("written by the child")))
}

// TestLockAcrossStores checks that two Store values on one root, as two
// processes would have, exclude each other through flock alone.
func TestLockAcrossStores(t *testing.T) {
	root := t.TempDir()
	ctx := t.Context()
	s1, err := content.New(root)
	assert.NilError(t, err)
	s2, err := content.New(root)
	assert.NilError(t, err)
	w, err := s1.Writer(ctx, "ref", "", 0)
	assert.NilError(t, err)
	_, err = s2.Writer(ctx, "ref", "", 0)
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
	assert.NilError(t, w.Commit(ctx, 0, ""))
	w, err = s2.Writer(ctx, "ref", "", 0)
	assert.NilError(t, err, "the lock follows the ingest directory, not the Store")
	assert.NilError(t, w.Close())
}
