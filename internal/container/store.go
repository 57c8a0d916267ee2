// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
)

// Store indexes the daemon's containers by ID, ID prefix and name.
type Store struct {
	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]string // name without "/" → ID
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{byID: map[string]*Container{}, byName: map[string]string{}}
}

var validName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
})

// NewID returns a random 64-hex-digit ID whose short form is not all
// digits (as Docker makes sure, so that it cannot be mistaken for a number).
func NewID() string {
	for {
		b := make([]byte, 32)
		rand.Read(b)
		id := hex.EncodeToString(b)
		if strings.Trim(id[:12], "0123456789") != "" {
			return id
		}
	}
}

// Reserve records c under its ID and name; a name in use is a conflict
// with Docker's message.
func (s *Store) Reserve(c *Container) error {
	name := c.ShortName()
	if !validName().MatchString(name) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byName[name]; ok {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", "/"+name, id))
	}
	s.byID[c.ID] = c
	s.byName[name] = c.ID
	return nil
}

// Rename moves c's name to newName.
func (s *Store) Rename(c *Container, oldName, newName string) error {
	newName = strings.TrimPrefix(newName, "/")
	if !validName().MatchString(newName) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byName[newName]; ok {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error when allocating new name: Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", "/"+newName, id))
	}
	delete(s.byName, strings.TrimPrefix(oldName, "/"))
	s.byName[newName] = c.ID
	return nil
}

// Delete forgets c.
func (s *Store) Delete(c *Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, c.ID)
	for n, id := range s.byName {
		if id == c.ID {
			delete(s.byName, n)
		}
	}
}

// Get finds a container by full ID, name or unique ID prefix, Docker's
// order.
func (s *Store) Get(ref string) (*Container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref == "" {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such container: %s", ref))
	}
	if c, ok := s.byID[ref]; ok {
		return c, nil
	}
	if id, ok := s.byName[strings.TrimPrefix(ref, "/")]; ok {
		return s.byID[id], nil
	}
	var found *Container
	for id, c := range s.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("multiple IDs found with provided prefix: %s", ref))
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such container: %s", ref))
	}
	return found, nil
}

// List returns every container, newest first.
func (s *Store) List() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Len is the number of containers.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// GenerateName returns a free "adjective_surname" name, as Docker makes them.
func (s *Store) GenerateName() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := 0; ; i++ {
		a, _ := rand.Int(rand.Reader, big.NewInt(int64(len(left))))
		b, _ := rand.Int(rand.Reader, big.NewInt(int64(len(right))))
		name := left[a.Int64()] + "_" + right[b.Int64()]
		if i > 10 {
			n, _ := rand.Int(rand.Reader, big.NewInt(10))
			name += n.String()
		}
		if _, taken := s.byName[name]; !taken {
			return name
		}
	}
}

var left = []string{"admiring", "adoring", "affectionate", "amazing", "awesome", "blissful", "bold", "brave", "charming", "clever", "cool", "dazzling", "determined", "eager", "ecstatic", "elegant", "epic", "exciting", "festive", "focused", "friendly", "gallant", "gifted", "happy", "hopeful", "inspiring", "jolly", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "nice", "nifty", "optimistic", "peaceful", "pensive", "practical", "quirky", "relaxed", "serene", "sharp", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly", "xenodochial", "youthful", "zealous"}

var right = []string{"albattani", "babbage", "bardeen", "bohr", "cori", "curie", "darwin", "dijkstra", "einstein", "euler", "fermat", "feynman", "galileo", "gauss", "hamilton", "hopper", "hypatia", "kepler", "knuth", "lamport", "lovelace", "maxwell", "meitner", "newton", "noether", "pascal", "pike", "ritchie", "shannon", "tesla", "thompson", "torvalds", "turing", "wozniak", "yalow"}
