// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package imageref parses Docker image references ("busybox",
// "localhost:5000/a/b:tag@sha256:...") exactly as
// github.com/distribution/reference's ParseNormalizedNamed does, with the
// same normalization and the same error texts.
//
// It exists for start-up time: that library's package init compiles about
// ten regular expressions (and go-digest's a few more), which costs around
// a millisecond at every start of the CLI whether or not a command ever
// looks at an image name. This package matches the same grammar by hand,
// without the regexp package, so linking it costs nothing at start-up.
package imageref

import (
	"errors"
	"fmt"
	"strings"
)

const (
	defaultDomain       = "docker.io"
	legacyDefaultDomain = "index.docker.io"
	officialRepoPrefix  = "library/"
	defaultTag          = "latest"
	maxNameLen          = 255 // longest Path allowed
	maxTagLen           = 128
)

// The errors of distribution/reference and go-digest, with the same texts.
var (
	errReferenceInvalidFormat = errors.New("invalid reference format")
	errNameContainsUppercase  = errors.New("repository name must be lowercase")
	errNameEmpty              = errors.New("repository name must have at least one component")
	errNameTooLong            = fmt.Errorf("repository name must not be more than %v characters", maxNameLen)
	errDigestInvalidFormat    = errors.New("invalid checksum digest format")
	errDigestInvalidLength    = errors.New("invalid checksum digest length")
	errDigestUnsupported      = errors.New("unsupported digest algorithm")
)

// Ref is a parsed, normalized image reference.
//
// Domain is empty in one odd case the library also produces: a first
// component that looks like a domain (it has a '.', say) but is not a valid
// one, while the whole name is a valid path, as in "a_b.c/d". Path then
// holds the whole name.
type Ref struct {
	Domain string // "docker.io" for Docker Hub (index.docker.io normalizes to it)
	Path   string // "library/busybox" (Docker Hub's official images get "library/")
	Tag    string // "" when none
	Digest string // "" when none, else "sha256:..."
}

// ParseNormalized parses s as distribution/reference.ParseNormalizedNamed
// does, with the same error texts.
func ParseNormalized(s string) (Ref, error) {
	if len(s) == 64 && isLowerHex(s) {
		return Ref{}, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, remainder := splitDockerDomain(s)
	remote, _, _ := strings.Cut(remainder, ":")
	// strings.ToLower, not an ASCII check: the library uses it, so it also
	// rejects other Unicode upper case and invalid UTF-8.
	if strings.ToLower(remote) != remote {
		return Ref{}, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", remote)
	}
	return parse(domain + "/" + remainder)
}

// Name returns the repository name, Domain + "/" + Path, like
// reference.Named.Name().
func (r Ref) Name() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

// String returns the full reference: Name, then ":"+Tag and "@"+Digest when
// present.
func (r Ref) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// NameOnly reports whether r has neither tag nor digest (reference.IsNameOnly).
func (r Ref) NameOnly() bool {
	return r.Tag == "" && r.Digest == ""
}

// WithDefaultTag returns r with tag "latest" if it is NameOnly, else r
// unchanged (reference.TagNameOnly).
func (r Ref) WithDefaultTag() Ref {
	if r.NameOnly() {
		r.Tag = defaultTag
	}
	return r
}

// FamiliarName returns the name as users write it: without "docker.io/",
// and without "library/" for official images (reference.FamiliarName).
func (r Ref) FamiliarName() string {
	return r.familiar().Name()
}

// FamiliarString is String in the familiar form (reference.FamiliarString).
func (r Ref) FamiliarString() string {
	return r.familiar().String()
}

func (r Ref) familiar() Ref {
	if r.Domain != defaultDomain {
		return r
	}
	r.Domain = ""
	if rest, ok := strings.CutPrefix(r.Path, officialRepoPrefix); ok && !strings.Contains(rest, "/") {
		r.Path = rest
	}
	return r
}

// splitDockerDomain splits name into a domain and the rest, defaulting to
// Docker Hub: the first component is a domain only if it is "localhost" or
// has a '.', a ':' or upper case.
func splitDockerDomain(name string) (domain, remainder string) {
	first, rest, ok := strings.Cut(name, "/")
	if !ok {
		return defaultDomain, officialRepoPrefix + name
	}
	switch {
	case first == "localhost":
		domain, remainder = first, rest
	case first == legacyDefaultDomain:
		domain, remainder = defaultDomain, rest
	case strings.ContainsAny(first, ".:"):
		domain, remainder = first, rest
	case strings.ToLower(first) != first:
		domain, remainder = first, rest
	default:
		domain, remainder = defaultDomain, name
	}
	if domain == defaultDomain && !strings.Contains(remainder, "/") {
		remainder = officialRepoPrefix + remainder
	}
	return domain, remainder
}

// parse is reference.Parse for the names ParseNormalized builds.
func parse(s string) (Ref, error) {
	r, ok := match(s)
	if !ok {
		if s == "" {
			return Ref{}, errNameEmpty
		}
		if _, ok := match(strings.ToLower(s)); ok {
			return Ref{}, errNameContainsUppercase
		}
		return Ref{}, errReferenceInvalidFormat
	}
	if len(r.Path) > maxNameLen {
		return Ref{}, errNameTooLong
	}
	if r.Digest != "" {
		if err := validateDigest(r.Digest); err != nil {
			return Ref{}, err
		}
	}
	return r, nil
}

// match checks s against the reference grammar
//
//	[domain "/"] path-component ("/" path-component)* [":" tag] ["@" digest]
//
// and splits it. Neither name nor tag may hold '@', and the tag holds no
// ':' or '/' while the name's only ':' are in the domain, which is followed
// by a '/'; so the first '@' starts the digest and a ':' after the last '/'
// starts the tag.
func match(s string) (r Ref, ok bool) {
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		name, r.Digest = s[:i], s[i+1:]
		if !isDigestSyntax(r.Digest) {
			return Ref{}, false
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, r.Tag = name[:i], name[i+1:]
		if !isTag(r.Tag) {
			return Ref{}, false
		}
	}
	// The library prefers reading the first component as a domain; failing
	// that, the whole name must be a path.
	if first, rest, found := strings.Cut(name, "/"); found && isDomain(first) && isPath(rest) {
		r.Domain, r.Path = first, rest
		return r, true
	}
	if !isPath(name) {
		return Ref{}, false
	}
	r.Path = name
	return r, true
}

// isDomain matches a host name (dot-separated labels of letters, digits
// and inner '-') or a bracketed IPv6 address, then an optional ":port".
func isDomain(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[:end+1], s[end+1:]
		if !isIPv6(host[1:end]) {
			return false
		}
	} else {
		var hasPort bool
		host, port, hasPort = strings.Cut(s, ":")
		if hasPort {
			port = ":" + port
		}
		for label := range strings.SplitSeq(host, ".") {
			if !isDomainLabel(label) {
				return false
			}
		}
	}
	if port == "" {
		return true
	}
	return port[0] == ':' && len(port) > 1 && isDigits(port[1:])
}

// isIPv6 matches the inside of the brackets: [a-fA-F0-9:]+.
func isIPv6(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ':' && !isHexDigit(c) {
			return false
		}
	}
	return true
}

// isDomainLabel matches [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9].
func isDomainLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '-' && !isAlnum(c) {
			return false
		}
	}
	return true
}

// isPath matches one or more path components joined by '/'.
func isPath(s string) bool {
	for comp := range strings.SplitSeq(s, "/") {
		if !isPathComponent(comp) {
			return false
		}
	}
	return true
}

// isPathComponent matches [a-z0-9]+ runs joined by the separators
// ".", "_", "__" or one or more "-".
func isPathComponent(s string) bool {
	if s == "" || !isLowerAlnum(s[0]) || !isLowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if isLowerAlnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !isLowerAlnum(s[j]) {
			j++
		}
		switch sep := s[i:j]; {
		case sep == ".", sep == "_", sep == "__":
		case strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}

// isTag matches [\w][\w.-]{0,127}.
func isTag(s string) bool {
	if s == "" || len(s) > maxTagLen || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; c != '.' && c != '-' && !isWord(c) {
			return false
		}
	}
	return true
}

// isDigestSyntax matches the reference grammar's digest,
// [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,};
// validateDigest then checks it as go-digest does.
func isDigestSyntax(s string) bool {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || alg == "" || len(enc) < 32 || !isAlnum(alg[len(alg)-1]) {
		return false
	}
	for i := 0; i < len(enc); i++ {
		if !isHexDigit(enc[i]) {
			return false
		}
	}
	for i := 0; i < len(alg); i++ {
		// Each part starts with a letter: at the start and after a separator.
		if i == 0 || strings.IndexByte("-_+.", alg[i-1]) >= 0 {
			if !isLetter(alg[i]) {
				return false
			}
		} else if c := alg[i]; !isAlnum(c) && strings.IndexByte("-_+.", c) < 0 {
			return false
		}
	}
	return true
}

// validateDigest is go-digest's Digest.Validate for a string that passed
// isDigestSyntax, with sha256, sha384 and sha512 available.
func validateDigest(s string) error {
	alg, enc, _ := strings.Cut(s, ":")
	var size int
	switch alg {
	case "sha256":
		size = 64
	case "sha384":
		size = 96
	case "sha512":
		size = 128
	default:
		// go-digest's own syntax wants a lower-case algorithm; the rest of
		// its pattern is implied by isDigestSyntax.
		if strings.ToLower(alg) != alg {
			return errDigestInvalidFormat
		}
		return errDigestUnsupported
	}
	if len(enc) != size {
		return errDigestInvalidLength
	}
	if !isLowerHex(enc) {
		return errDigestInvalidFormat
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isLetter(c byte) bool     { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool      { return isLetter(c) || '0' <= c && c <= '9' }
func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
