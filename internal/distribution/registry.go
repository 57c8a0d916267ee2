// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registry names a registry host ("127.0.0.1:5000"; "docker.io" is Docker
// Hub), marked insecure when the transport rule allows plain HTTP.
func (c *Client) registry(host string) (name.Registry, error) {
	var opts []name.Option
	if c.plainHTTPAllowed(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid registry %q: %v", host, err))
	}
	return reg, nil
}

// Login checks the client's credentials for the registry host as
// `docker login` does: /v2/ must answer 200 once authenticated (basic
// auth, or a bearer token obtained with the credentials). Refused
// credentials are errdefs.ErrUnauthenticated with Docker's message,
// "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401
// Unauthorized".
func (c *Client) Login(ctx context.Context, host string) error {
	reg, err := c.registry(host)
	if err != nil {
		return err
	}
	base := policyTransport{c}
	ch, err := transport.Ping(ctx, reg, base)
	if err != nil {
		return classify(err, "ping "+host)
	}
	scheme := "https"
	if ch.Insecure {
		scheme = "http"
	}
	url := scheme + "://" + reg.RegistryStr() + "/v2/"
	auth, err := keychain{c.Auth}.Resolve(reg)
	if err != nil {
		return err
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, base, nil)
	if err != nil {
		// The token service refused the credentials.
		return errdefs.ErrUnauthenticated.WithMessage(fmt.Sprintf("login attempt to %s failed: %v", url, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return classify(err, "login to "+host)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := fmt.Sprintf("login attempt to %s failed with status: %d %s", url, resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode == http.StatusUnauthorized {
		return errdefs.ErrUnauthenticated.WithMessage(msg)
	}
	return errdefs.ErrUnknown.WithMessage(msg)
}

// Tags lists the tags of repository repo (/v2/<name>/tags/list).
func (c *Client) Tags(ctx context.Context, repo reference.Named) ([]string, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	var opts []name.Option
	if c.plainHTTPAllowed(reference.Domain(repo)) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRepository(repo.Name(), opts...)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(r,
		remote.WithContext(ctx),
		remote.WithTransport(policyTransport{c}),
		remote.WithAuthFromKeychain(keychain{c.Auth}),
		remote.WithUserAgent("berth"))
	if err != nil {
		return nil, classify(err, "tags of "+repo.Name())
	}
	return tags, nil
}

// Catalog lists every repository of the registry host from its
// /v2/_catalog endpoint (the distribution API has no search).
func (c *Client) Catalog(ctx context.Context, host string) ([]string, error) {
	reg, err := c.registry(host)
	if err != nil {
		return nil, err
	}
	repos, err := remote.Catalog(ctx, reg,
		remote.WithContext(ctx),
		remote.WithTransport(policyTransport{c}),
		remote.WithAuthFromKeychain(keychain{c.Auth}),
		remote.WithUserAgent("berth"))
	if err != nil {
		return nil, classify(err, "catalog of "+host)
	}
	return repos, nil
}
