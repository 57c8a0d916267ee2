// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package storage keeps the metadata of berth's snapshotters (keys, ids,
// parents, kinds, labels, times) in a bbolt database. The snapshotters own
// the directories; this package hands out the short numeric ids that name
// them.
//
// # Format, version 1
//
//	v1/                              bucket
//	  snapshots/                     bucket; its sequence allocates ids
//	    <key> → record               JSON, one per snapshot
//	  children/                      bucket
//	    <parent key>/                bucket, one per snapshot that has children
//	      <child key> → ""
//
// A record is {"id":7,"kind":"active","parent":"sha256:…","labels":{…},
// "created":"…","updated":"…","inodes":…,"size":…}; parent, labels, inodes
// and size are omitted when empty, and inodes and size are only recorded
// for committed snapshots. Ids are decimal strings of the bucket sequence,
// never reused, so a snapshot directory named by an id is never confused
// with a later snapshot's. A change of format adds a v2 bucket and a
// migration from v1 in Open.
package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-project/berth/internal/snapshot"
)

var (
	bucketV1        = []byte("v1")
	bucketSnapshots = []byte("snapshots")
	bucketChildren  = []byte("children")
)

// maxKeyLen bounds keys well below bbolt's own limit.
const maxKeyLen = 4096

// MetaStore is an open metadata database.
type MetaStore struct {
	db *bolt.DB
}

// OpenMeta opens or creates the database at path. bbolt locks the file, so a
// second process (or a second Open in this one) fails with
// errdefs.ErrUnavailable after a second instead of waiting forever.
func OpenMeta(path string) (*MetaStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			err = fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable)
		}
		return nil, fmt.Errorf("snapshot metadata: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		v1, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		if _, err := v1.CreateBucketIfNotExists(bucketSnapshots); err != nil {
			return err
		}
		_, err = v1.CreateBucketIfNotExists(bucketChildren)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("snapshot metadata: init %s: %w", path, err)
	}
	return &MetaStore{db: db}, nil
}

// Close closes the database.
func (s *MetaStore) Close() error { return s.db.Close() }

// View runs fn in a read-only transaction.
func (s *MetaStore) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(newTx(tx)) })
}

// Update runs fn in a read-write transaction, committed (and fsynced)
// when fn returns nil and rolled back otherwise.
func (s *MetaStore) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(newTx(tx)) })
}

// Tx is a transaction on the metadata.
type Tx struct {
	snapshots, children *bolt.Bucket
}

func newTx(tx *bolt.Tx) *Tx {
	v1 := tx.Bucket(bucketV1)
	return &Tx{snapshots: v1.Bucket(bucketSnapshots), children: v1.Bucket(bucketChildren)}
}

// Snapshot is what a snapshotter needs to find a snapshot's directories.
type Snapshot struct {
	ID   string
	Kind snapshot.Kind
	// ParentIDs are the ids of the parent chain, nearest first.
	ParentIDs []string
}

type record struct {
	ID      uint64            `json:"id"`
	Kind    string            `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Inodes  int64             `json:"inodes,omitempty"`
	Size    int64             `json:"size,omitempty"`
}

func (r *record) id() string { return strconv.FormatUint(r.ID, 10) }

func (r *record) kind() snapshot.Kind {
	for _, k := range []snapshot.Kind{snapshot.KindView, snapshot.KindActive, snapshot.KindCommitted} {
		if k.String() == r.Kind {
			return k
		}
	}
	return snapshot.KindUnknown
}

func (r *record) info(key string) snapshot.Info {
	return snapshot.Info{
		Kind: r.kind(), Name: key, Parent: r.Parent, Labels: copyLabels(r.Labels),
		Created: r.Created, Updated: r.Updated,
	}
}

func copyLabels(l map[string]string) map[string]string {
	if len(l) == 0 {
		return nil
	}
	c := make(map[string]string, len(l))
	for k, v := range l {
		c[k] = v
	}
	return c
}

func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("snapshot key %.64q: empty or longer than %d bytes: %w", key, maxKeyLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (t *Tx) get(key string) (*record, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v := t.snapshots.Get([]byte(key))
	if v == nil {
		return nil, fmt.Errorf("snapshot %s: %w", key, errdefs.ErrNotFound)
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("snapshot %s: decode metadata: %w", key, err)
	}
	return &r, nil
}

func (t *Tx) put(key string, r *record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return t.snapshots.Put([]byte(key), v)
}

// Stat returns the id, Info and recorded Usage (zero unless committed) of
// key.
func (t *Tx) Stat(key string) (string, snapshot.Info, snapshot.Usage, error) {
	r, err := t.get(key)
	if err != nil {
		return "", snapshot.Info{}, snapshot.Usage{}, err
	}
	return r.id(), r.info(key), snapshot.Usage{Inodes: r.Inodes, Size: r.Size}, nil
}

// Get returns key with the ids of its parent chain.
func (t *Tx) Get(key string) (Snapshot, error) {
	r, err := t.get(key)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{ID: r.id(), Kind: r.kind()}
	for p := r.Parent; p != ""; {
		pr, err := t.get(p)
		if err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %s: parent: %w", key, err)
		}
		s.ParentIDs = append(s.ParentIDs, pr.id())
		p = pr.Parent
	}
	return s, nil
}

// Create records a new active or view snapshot key on the committed
// snapshot parent ("" for none) and allocates its id.
func (t *Tx) Create(kind snapshot.Kind, key, parent string, labels map[string]string) (Snapshot, error) {
	if kind != snapshot.KindActive && kind != snapshot.KindView {
		return Snapshot{}, fmt.Errorf("snapshot %s: create of kind %s: %w", key, kind, errdefs.ErrInvalidArgument)
	}
	if err := checkKey(key); err != nil {
		return Snapshot{}, err
	}
	if t.snapshots.Get([]byte(key)) != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", key, errdefs.ErrAlreadyExists)
	}
	if parent != "" {
		pr, err := t.get(parent)
		if err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %s: parent: %w", key, err)
		}
		if pr.kind() != snapshot.KindCommitted {
			return Snapshot{}, fmt.Errorf("snapshot %s: parent %s is %s, not committed: %w", key, parent, pr.kind(), errdefs.ErrInvalidArgument)
		}
		if err := t.addChild(parent, key); err != nil {
			return Snapshot{}, err
		}
	}
	seq, err := t.snapshots.NextSequence()
	if err != nil {
		return Snapshot{}, err
	}
	now := time.Now().UTC()
	r := &record{ID: seq, Kind: kind.String(), Parent: parent, Labels: copyLabels(labels), Created: now, Updated: now}
	if err := t.put(key, r); err != nil {
		return Snapshot{}, err
	}
	return t.Get(key)
}

// Commit turns the active snapshot key into the committed snapshot name,
// keeping its id, with the given usage and labels. It returns the id.
func (t *Tx) Commit(key, name string, usage snapshot.Usage, labels map[string]string) (string, error) {
	if err := checkKey(name); err != nil {
		return "", err
	}
	r, err := t.get(key)
	if err != nil {
		return "", err
	}
	if r.kind() != snapshot.KindActive {
		return "", fmt.Errorf("commit %s: snapshot is %s, not active: %w", key, r.kind(), errdefs.ErrFailedPrecondition)
	}
	if t.snapshots.Get([]byte(name)) != nil {
		return "", fmt.Errorf("commit %s to %s: %w", key, name, errdefs.ErrAlreadyExists)
	}
	if err := t.snapshots.Delete([]byte(key)); err != nil {
		return "", err
	}
	if r.Parent != "" {
		if err := t.removeChild(r.Parent, key); err != nil {
			return "", err
		}
		if err := t.addChild(r.Parent, name); err != nil {
			return "", err
		}
	}
	now := time.Now().UTC()
	c := &record{
		ID: r.ID, Kind: snapshot.KindCommitted.String(), Parent: r.Parent, Labels: copyLabels(labels),
		Created: now, Updated: now, Inodes: usage.Inodes, Size: usage.Size,
	}
	return c.id(), t.put(name, c)
}

// Remove deletes key, refusing (errdefs.ErrFailedPrecondition) one that
// has children. It returns the removed snapshot's id and kind.
func (t *Tx) Remove(key string) (string, snapshot.Kind, error) {
	r, err := t.get(key)
	if err != nil {
		return "", snapshot.KindUnknown, err
	}
	if b := t.children.Bucket([]byte(key)); b != nil {
		if k, _ := b.Cursor().First(); k != nil {
			return "", snapshot.KindUnknown, fmt.Errorf("remove %s: snapshot has children (%s): %w", key, k, errdefs.ErrFailedPrecondition)
		}
	}
	if err := t.snapshots.Delete([]byte(key)); err != nil {
		return "", snapshot.KindUnknown, err
	}
	if r.Parent != "" {
		if err := t.removeChild(r.Parent, key); err != nil {
			return "", snapshot.KindUnknown, err
		}
	}
	return r.id(), r.kind(), nil
}

// Walk calls fn with the id and Info of every snapshot, in key order.
func (t *Tx) Walk(fn func(id string, info snapshot.Info) error) error {
	return t.snapshots.ForEach(func(k, v []byte) error {
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("snapshot %s: decode metadata: %w", k, err)
		}
		return fn(r.id(), r.info(string(k)))
	})
}

func (t *Tx) addChild(parent, child string) error {
	b, err := t.children.CreateBucketIfNotExists([]byte(parent))
	if err != nil {
		return err
	}
	return b.Put([]byte(child), nil)
}

func (t *Tx) removeChild(parent, child string) error {
	b := t.children.Bucket([]byte(parent))
	if b == nil {
		return nil
	}
	if err := b.Delete([]byte(child)); err != nil {
		return err
	}
	if k, _ := b.Cursor().First(); k == nil {
		return t.children.DeleteBucket([]byte(parent))
	}
	return nil
}
