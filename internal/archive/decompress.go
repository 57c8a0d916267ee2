// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// IsCompressed says whether a stream that starts with head is one that
// Decompress decompresses (gzip or zstd).
func IsCompressed(head []byte) bool {
	return bytes.HasPrefix(head, gzipMagic) || bytes.HasPrefix(head, zstdMagic)
}

// Decompress sniffs the first bytes of r and returns a reader of the
// uncompressed stream: gzip and zstd are decompressed, anything else
// (a plain tar) is passed through. Closing the result releases the
// decompressor; it does not close r.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("archive: sniff compression: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("archive: gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, zstdMagic):
		// Decoding runs in goroutines; Close (IOReadCloser) stops them.
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("archive: zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
