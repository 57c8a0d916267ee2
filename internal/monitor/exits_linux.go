// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// exitRecord is the JSON of DIR/exits/<id>.
type exitRecord struct {
	Exit
	Tty bool `json:"tty,omitempty"`
}

func (s *server) exitPath(id string) string {
	return filepath.Join(s.dir, exitsDir, exitFileName(id))
}

// writeExit records p's exit: temporary file, then rename, so that a
// reader (or a monitor started after a crash) never sees half a record.
func (s *server) writeExit(p *proc) error {
	data, err := json.Marshal(exitRecord{Exit: p.exit, Tty: p.cfg.Tty})
	if err != nil {
		return err
	}
	path := s.exitPath(p.id)
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if s.temps != nil {
		// made elsewhere: each exit would take an inode from the exits
		// directory's block group (fsutil.TempDirs)
		dir, err := s.temps.For(p.id)
		if err != nil {
			return err
		}
		tmp = filepath.Join(dir, filepath.Base(path))
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// loadExits reads the exit records a previous monitor left.
func (s *server) loadExits() {
	dir := filepath.Join(s.dir, exitsDir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var r exitRecord
		if err := json.Unmarshal(data, &r); err != nil || r.ID == "" {
			s.log.Warn("bad exit record", "file", e.Name(), "err", err)
			continue
		}
		s.procs[r.ID] = &proc{
			id:   r.ID,
			cfg:  Config{ID: r.ID, Tty: r.Tty},
			pid:  r.Pid,
			done: true,
			exit: r.Exit,
		}
	}
}
