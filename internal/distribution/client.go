// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultConcurrency is how many blobs Fetch and Push move at once when
// Client.Concurrency is zero (Docker's max-concurrent-downloads is 3).
const DefaultConcurrency = 3

// AuthFunc returns the credentials for a registry host, as named in
// references ("docker.io" for Docker Hub, "localhost:5000"), and false
// when there are none (anonymous access).
type AuthFunc func(registry string) (user, pass string, ok bool)

// Client talks to registries. The zero value is ready to use: anonymous,
// loopback registries only over plain HTTP, linux on the host's
// architecture. A Client caches registry sessions (auth tokens) for its
// lifetime; make one per operation with that operation's credentials, as
// the daemon gets credentials with each pull or push request. Set the
// fields before the first call and don't change them afterwards.
type Client struct {
	// Insecure lists registries that may be reached over plain HTTP or
	// with unverified TLS, as the daemon's "insecure-registries": a
	// "host", a "host:port" or a CIDR such as "10.0.0.0/8". Loopback
	// registries always are, as in Docker.
	Insecure []string
	// Auth gives credentials per registry; nil means anonymous.
	Auth AuthFunc
	// Platform is the platform Resolve picks from an index; nil means
	// linux on the host's architecture.
	Platform *ocispec.Platform
	// Concurrency bounds the blobs moved at once; 0 is DefaultConcurrency.
	Concurrency int

	once   sync.Once
	puller *remote.Puller
	pusher *remote.Pusher
	err    error
}

func (c *Client) init() error {
	c.once.Do(func() {
		opts := []remote.Option{
			remote.WithTransport(policyTransport{c}),
			remote.WithAuthFromKeychain(keychain{c.Auth}),
			remote.WithJobs(c.concurrency()),
			remote.WithUserAgent("berth"),
			remote.WithRetryBackoff(remote.Backoff{Duration: 100 * time.Millisecond, Factor: 3, Steps: 3}),
		}
		if c.puller, c.err = remote.NewPuller(opts...); c.err != nil {
			return
		}
		c.pusher, c.err = remote.NewPusher(opts...)
	})
	return c.err
}

func (c *Client) concurrency() int {
	if c.Concurrency > 0 {
		return c.Concurrency
	}
	return DefaultConcurrency
}

func (c *Client) platform() ocispec.Platform {
	if c.Platform != nil {
		return *c.Platform
	}
	return ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// repository turns a reference into go-containerregistry's name, marked
// insecure when plain HTTP is allowed so that the library tries it.
func (c *Client) name(ref name.Reference) (name.Reference, error) {
	if !c.plainHTTPAllowed(ref.Context().RegistryStr()) {
		return ref, nil
	}
	return name.ParseReference(ref.String(), name.Insecure)
}

// plainHTTPAllowed decides, for a registry host[:port], whether berth may
// talk to it over plain HTTP or unverified TLS: loopback hosts always (as
// Docker does), others only when Client.Insecure lists them.
func (c *Client) plainHTTPAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip, ipErr := netip.ParseAddr(host)
	if ipErr == nil && ip.Unmap().IsLoopback() {
		return true
	}
	for _, entry := range c.Insecure {
		if entry == hostport || entry == host {
			return true
		}
		if p, err := netip.ParsePrefix(entry); err == nil && ipErr == nil && p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// Shared by all clients so connections to a registry are reused.
var (
	secureTransport = sync.OnceValue(func() *http.Transport {
		return http.DefaultTransport.(*http.Transport).Clone()
	})
	insecureTransport = sync.OnceValue(func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for loopback and listed insecure registries
		return t
	})
)

// policyTransport enforces the transport-security rule on every request,
// whatever scheme the protocol library chooses (it also falls back to
// HTTP for private addresses, which Docker does not).
type policyTransport struct{ c *Client }

func (p policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !p.c.plainHTTPAllowed(req.URL.Host) {
		if req.URL.Scheme != "https" {
			return nil, errdefs.ErrUnavailable.WithMessage(fmt.Sprintf(
				"refusing plain HTTP to registry %s: only loopback registries and those configured as insecure may use it", req.URL.Host))
		}
		return secureTransport().RoundTrip(req)
	}
	return insecureTransport().RoundTrip(req)
}

// keychain adapts an AuthFunc to go-containerregistry.
type keychain struct{ auth AuthFunc }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.auth == nil {
		return authn.Anonymous, nil
	}
	registry := r.RegistryStr()
	if registry == name.DefaultRegistry {
		registry = "docker.io"
	}
	user, pass, ok := k.auth(registry)
	if !ok {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
}
