// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
)

// stream is a JSON message stream as Docker writes it: one JSON object per
// line, flushed as it goes. The status line goes out with the first
// message, so that an error found before anything was sent (an unknown
// image) is still answered with its own status, as moby's
// ioutils.WriteFlusher.Flushed check does.
type stream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
	err     error
}

func newStream(w http.ResponseWriter) *stream {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &stream{w: w, enc: enc}
}

func (s *stream) start() {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
	}
}

func (s *stream) write(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start()
	if s.err != nil {
		return
	}
	if s.err = s.enc.Encode(v); s.err == nil {
		if f, ok := s.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// send is the stream's Progress.
func (s *stream) send(m jsonstream.Message) { s.write(m) }

// errorMessage is the last message of a failed stream; Docker sends the
// text twice, the "error" field for old clients.
type errorMessage struct {
	ErrorDetail *jsonstream.Error `json:"errorDetail"`
	Error       string            `json:"error"`
}

// finish ends the stream: with nothing sent and no error it still sends
// the status line; an error after the first message becomes the stream's
// last message (and is returned for the request log only).
func (s *stream) finish(err error) error {
	s.mu.Lock()
	started := s.started
	if err == nil {
		s.start()
	}
	s.mu.Unlock()
	if err == nil || !started {
		return err
	}
	s.write(errorMessage{ErrorDetail: &jsonstream.Error{Message: err.Error()}, Error: err.Error()})
	return err
}

// decodeAuth reads the X-Registry-Auth header: base64url-encoded JSON of
// an AuthConfig (padding optional, as Docker's DecodeAuthConfig accepts).
// A missing header is anonymous access.
func decodeAuth(h string) (*registry.AuthConfig, error) {
	auth := &registry.AuthConfig{}
	if h == "" {
		return auth, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	}
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid X-Registry-Auth header: %v", err))
	}
	if err := json.Unmarshal(b, auth); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid X-Registry-Auth header: %v", err))
	}
	return auth, nil
}
