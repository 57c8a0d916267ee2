// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkApplySmallFiles applies a layer of 10,000 small files in 100
// directories three levels deep: the per-entry cost of the safety checks.
func BenchmarkApplySmallFiles(b *testing.B) {
	var entries []ent
	for d := range 100 {
		dn := fmt.Sprintf("usr/share/d%03d/", d)
		entries = append(entries, dir(dn))
		for f := range 100 {
			entries = append(entries, file(fmt.Sprintf("%sf%03d", dn, f), "content"))
		}
	}
	layer := mkTar(b, entries...)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		root := b.TempDir()
		b.StartTimer()
		if _, err := Apply(b.Context(), root, bytes.NewReader(layer), ApplyOptions{Whiteouts: RemoveWhiteouts}); err != nil {
			b.Fatal(err)
		}
	}
}
