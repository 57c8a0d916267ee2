// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content

import (
	"os"
	"path/filepath"
)

// writeFileAtomic replaces name with data so that a reader, or a process
// started after a crash, sees the old file or the new one and never a mix:
// write a temporary file in the same directory, fsync it, rename it over
// name, fsync the directory.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(name))
}

// syncDir makes the entries of dir (a rename into it, a new file) durable:
// fsync(2) of a file does not cover the directory entry that names it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
