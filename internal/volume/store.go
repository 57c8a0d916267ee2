// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
)

// DriverName is the only driver berth has.
const DriverName = "local"

// AnonymousLabel marks volumes made for one container (-v /path, an
// image's VOLUME), as Docker 23 and later mark them; prune removes only
// those unless asked for all.
const AnonymousLabel = "com.docker.volume.anonymous"

// Record is a volume as volume.json holds it.
type Record struct {
	Name      string
	Labels    map[string]string
	Options   map[string]string
	CreatedAt time.Time
	// Users are the IDs that have the volume mounted (Mount without
	// Unmount yet).
	Users []string `json:",omitempty"`
}

// Anonymous tells whether the volume was made for one container.
func (r *Record) Anonymous() bool {
	_, ok := r.Labels[AnonymousLabel]
	return ok
}

// Store is the set of volumes under one root directory. It is safe for
// concurrent use.
type Store struct {
	root string
	mu   sync.Mutex
	vols map[string]*Record
}

// Open opens (creating it if needed) the volume store at root and loads
// its volumes. A device-backed volume recorded as mounted that is not (the
// host rebooted) loses its users.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, err
	}
	s := &Store{root: root, vols: map[string]*Record{}}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "volume.json"))
		if err != nil {
			continue // a half-made volume: no record, not a volume
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil || r.Name != e.Name() {
			continue
		}
		if len(r.Users) > 0 && needsMount(r.Options) && !mounted(s.dataPath(r.Name)) {
			r.Users = nil
			s.save(&r)
		}
		s.vols[r.Name] = &r
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) dataPath(name string) string { return filepath.Join(s.root, name, "_data") }

// Path is where volume name's content is while it is mounted.
func (s *Store) Path(name string) string { return s.dataPath(name) }

func noSuchVolume(name string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
}

// validName is Docker's local volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+
func validName(name string) bool {
	if len(name) < 2 {
		return false
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// ValidateName returns Docker's error for a name the local driver refuses.
func ValidateName(name string) error {
	if validName(name) {
		return nil
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name))
}

// validateOptions is the local driver's check: known keys only, type and
// device together, o only with both.
func validateOptions(opts map[string]string) error {
	keys := slices.Sorted(maps.Keys(opts))
	for _, k := range keys {
		switch k {
		case "type", "device", "o":
		case "size":
			if _, err := units.RAMInBytes(opts[k]); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
			return errdefs.ErrInvalidArgument.WithMessage("quota size requested but no quota support")
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option: %q", k))
		}
	}
	for _, req := range []struct {
		opt   string
		needs []string
	}{{"device", []string{"type"}}, {"o", []string{"device", "type"}}, {"type", []string{"device"}}} {
		if _, ok := opts[req.opt]; !ok {
			continue
		}
		for _, n := range req.needs {
			if _, ok := opts[n]; !ok {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("missing required option: %q", n))
			}
		}
	}
	return nil
}

func needsMount(opts map[string]string) bool {
	return opts["type"] != "" || opts["device"] != ""
}

// NewName returns a name for an anonymous or unnamed volume: 64 hex
// digits, as Docker's.
func NewName() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Create makes volume name (a generated name when empty) with labels and
// driver options. Creating a volume that exists returns it unchanged, as
// Docker does. created tells whether it is new.
func (s *Store) Create(name string, labels, opts map[string]string) (r Record, created bool, err error) {
	if name == "" {
		name = NewName()
	}
	if err := ValidateName(name); err != nil {
		return Record{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vols[name]; ok {
		return clone(v), false, nil
	}
	if err := validateOptions(opts); err != nil {
		return Record{}, false, fmt.Errorf("create %s: %w", name, err)
	}
	if len(labels) == 0 {
		labels = nil // null in the API, as Docker's
	}
	if len(opts) == 0 {
		opts = nil
	}
	v := &Record{Name: name, Labels: maps.Clone(labels), Options: maps.Clone(opts), CreatedAt: time.Now().UTC().Truncate(time.Second)}
	dir := filepath.Join(s.root, name)
	if err := os.MkdirAll(filepath.Join(dir, "_data"), 0o755); err != nil {
		return Record{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := s.save(v); err != nil {
		os.RemoveAll(dir)
		return Record{}, false, err
	}
	s.vols[name] = v
	return clone(v), true, nil
}

func clone(v *Record) Record {
	r := *v
	r.Labels = maps.Clone(v.Labels)
	r.Options = maps.Clone(v.Options)
	r.Users = slices.Clone(v.Users)
	return r
}

// save writes v's volume.json atomically. The caller holds s.mu.
func (s *Store) save(v *Record) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.root, v.Name)
	tmp := filepath.Join(dir, ".volume.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "volume.json"))
}

// Get returns volume name.
func (s *Store) Get(name string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return Record{}, noSuchVolume(name)
	}
	return clone(v), nil
}

// List returns every volume, by name.
func (s *Store) List() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.vols))
	for _, v := range s.vols {
		out = append(out, clone(v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Remove deletes volume name and its content. inUse, called under the
// store's lock, names the containers that use it: a volume in use (or
// still mounted) is refused with Docker's conflict error.
func (s *Store) Remove(name string, inUse func(name string) []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return noSuchVolume(name)
	}
	users := inUse(name)
	if len(v.Users) > 0 || len(users) > 0 {
		if len(users) == 0 {
			users = v.Users
		}
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(users, ", ")))
	}
	dir := filepath.Join(s.root, name)
	// the record goes first: a crash half way leaves no volume that
	// claims to exist without its content
	if err := os.Remove(filepath.Join(dir, "volume.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	delete(s.vols, name)
	if needsMount(v.Options) && mounted(s.dataPath(name)) {
		return fmt.Errorf("remove %s: its device is still mounted", name)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Mount makes volume name's content available to user and returns its
// path: a device-backed volume is mounted for its first user.
func (s *Store) Mount(name, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return "", noSuchVolume(name)
	}
	p := s.dataPath(name)
	if slices.Contains(v.Users, user) {
		return p, nil
	}
	if needsMount(v.Options) && len(v.Users) == 0 && !mounted(p) {
		if err := mountDevice(v.Options, p); err != nil {
			return "", fmt.Errorf("failed to mount local volume: %w", err)
		}
	}
	v.Users = append(v.Users, user)
	if err := s.save(v); err != nil {
		v.Users = v.Users[:len(v.Users)-1]
		if len(v.Users) == 0 && needsMount(v.Options) {
			unmountDevice(p)
		}
		return "", err
	}
	return p, nil
}

// Unmount releases user's use of volume name: the last user's release
// unmounts a device-backed volume. Releasing what is not held is a no-op.
func (s *Store) Unmount(name, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok || !slices.Contains(v.Users, user) {
		return nil
	}
	v.Users = slices.DeleteFunc(v.Users, func(u string) bool { return u == user })
	if len(v.Users) == 0 && needsMount(v.Options) {
		if err := unmountDevice(s.dataPath(name)); err != nil {
			v.Users = append(v.Users, user)
			return err
		}
	}
	return s.save(v)
}

// ReleaseUsersWithPrefix releases every user whose ID starts with prefix:
// the short-lived users a daemon that died left behind.
func (s *Store) ReleaseUsersWithPrefix(prefix string) {
	for _, r := range s.List() {
		for _, u := range r.Users {
			if strings.HasPrefix(u, prefix) {
				s.Unmount(r.Name, u)
			}
		}
	}
}

// Size is the size of volume name's content in bytes (each file once,
// whatever its links), as Docker counts it; -1 when it cannot be read.
func (s *Store) Size(name string) int64 {
	var total int64
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(s.dataPath(name), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), uint64(st.Ino)} // int32 and uint64 on some systems
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return -1
	}
	return total
}
