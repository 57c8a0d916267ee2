// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package imageref

import (
	// go-digest only knows the algorithms whose hashes are linked in; the
	// CLI links all three, so the library under comparison must too.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

var (
	hex32  = strings.Repeat("0123456789abcdef", 2)
	hex64  = strings.Repeat("0123456789abcdef", 4)
	hex96  = strings.Repeat("0123456789abcdef", 6)
	hex128 = strings.Repeat("0123456789abcdef", 8)
	sha256 = "sha256:" + hex64
)

// cases are inputs for the differential test, valid and invalid.
var cases = []string{
	// Docker Hub.
	"busybox",
	"busybox:1.36",
	"busybox:latest",
	"library/busybox",
	"library/busybox:1.36",
	"docker.io/busybox",
	"docker.io/library/busybox:latest",
	"docker.io/foo",
	"docker.io/foo/bar",
	"index.docker.io/foo/bar",
	"index.docker.io/busybox",
	"index.docker.io/library/busybox:1",
	"foo/bar",
	"foo/bar/baz",
	"library/foo/bar",
	"busybox@" + sha256,
	"busybox:1.36@" + sha256,
	"docker.io/library/busybox:latest@" + sha256,
	"localhost",
	"localhost:5000",
	"library",
	"library/library",
	"docker.io",
	"docker.io/library",
	// Registries.
	"localhost/foo",
	"localhost/foo:bar",
	"localhost:5000/foo/bar:tag",
	"localhost:5000/foo/bar@" + sha256,
	"127.0.0.1:5000/a/b@" + sha256,
	"127.0.0.1/a",
	"example.com/a:tag@" + sha256,
	"gcr.io/a/b/c",
	"gcr.io/a/b/c:v1.2.3-rc.1",
	"my-registry.example.com:443/team/app",
	"[::1]:5000/foo",
	"[::1]/foo",
	"[2001:db8::1]:5000/foo/bar:tag",
	"[fe80::1%eth0]/foo",
	"[::1/foo",
	"[::1]:/foo",
	"[]/foo",
	"[::1]x/foo",
	"Foo/bar",
	"FOO.example.com/bar",
	"EXAMPLE/bar",
	"a_b.c/d",
	"a__b.c/d:tag",
	"a_b:5000/c",
	"-a.com/b",
	"a-.com/b",
	"a..com/b",
	"a.com:/b",
	"a.com:50x0/b",
	"a.com:5000:6000/b",
	"host:5000",
	// Path components.
	"a__b",
	"a___b",
	"a-----b",
	"a.b_c",
	"a._b",
	"a_-b",
	"a-_b",
	"a.-b",
	"a.b.c",
	"a..b",
	"-a",
	"a-",
	"_a",
	"a_",
	".a",
	"a.",
	"a//b",
	"a/",
	"/a",
	"/",
	"a/b/",
	"a b",
	"a\tb",
	"a/b c",
	// Upper case and other letters.
	"Busybox",
	"BUSYBOX",
	"foo/Bar",
	"UPPER/foo",
	"UPPER/Foo",
	"docker.io/Foo",
	"localhost/Foo",
	"localhost:5000/Foo:tag",
	"Busybox@sha256:xyz",
	"foo:TAG",
	"foo:\u212a",       // Kelvin sign, lower-cases to ASCII 'k'
	"\u212aa.com/b",    // same, in the domain
	"fo\u00e9",         // é
	"fo\u00c9",         // É
	"foo\xff",          // invalid UTF-8
	"example.com/\xff", // invalid UTF-8 after a domain
	// Tags.
	"a:b",
	"a:-x",
	"a:.x",
	"a:_x",
	"a:x.-_X9",
	"a:" + strings.Repeat("t", 128),
	"a:" + strings.Repeat("t", 129),
	"a:b:c",
	"a:b/c",
	"a:",
	":",
	":tag",
	"a:tag:",
	"localhost:5000:tag",
	// Digests.
	"a@",
	"@" + sha256,
	"a@sha256:" + hex32,
	"a@sha256:" + hex64[:63],
	"a@sha256:" + hex64 + "0",
	"a@sha256:" + strings.ToUpper(hex64),
	"a@sha256:xyz",
	"a@sha256:" + strings.Repeat("g", 64),
	"a@sha384:" + hex96,
	"a@sha384:" + hex64,
	"a@sha512:" + hex128,
	"a@sha512:" + hex96,
	"a@md5:" + hex32,
	"a@SHA256:" + hex64,
	"a@Sha256:" + hex64,
	"a@sha256+b64:" + hex64,
	"a@sha256-:" + hex64,
	"a@-sha256:" + hex64,
	"a@sha--256:" + hex64,
	"a@sha.x:" + hex64,
	"a@s.1:" + hex64,
	"a@1sha:" + hex64,
	"a@:" + hex64,
	"a@sha256" + hex64,
	"a@" + sha256 + "@" + sha256,
	"a@" + sha256 + ":tag",
	"a:tag@" + sha256,
	"a:tag@sha256:abc",
	"a:-tag@sha256:abc",
	sha256,
	// 64-hex identifiers.
	hex64,
	hex64 + "0",
	hex64[:63],
	strings.ToUpper(hex64),
	hex64 + ":tag",
	"foo/" + hex64,
	// Lengths.
	strings.Repeat("a", 255),
	strings.Repeat("a", 256),
	strings.Repeat("a", 247),
	strings.Repeat("a", 248),
	"example.com/" + strings.Repeat("a", 255),
	"example.com/" + strings.Repeat("a", 256),
	"x/" + strings.Repeat("a", 254),
	strings.Repeat("A", 300),
	strings.Repeat("a", 300) + "@sha256:abc",
	"",
	" ",
	"@",
	"a@b@c",
}

func TestParseNormalizedTable(t *testing.T) {
	var ok, bad int
	for _, s := range cases {
		if compare(t, s) {
			ok++
		} else {
			bad++
		}
	}
	t.Logf("%d inputs: %d valid, %d invalid", len(cases), ok, bad)
}

// TestParseNormalizedRandom compares on random strings: some from a small
// alphabet, some built from reference-like pieces.
func TestParseNormalizedRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aAb0:/.-_@[]sh256"
	pieces := []string{
		"a", "b", "z9", "A", "_", "__", "-", "--", ".", "..", "/", ":", "@", ":5000", "[::1]",
		"localhost", "docker.io", "index.docker.io", "library", "library/", "example.com",
		"sha256", "sha384", "sha512", "md5", ":tag", ":latest", "@" + sha256,
		"@sha384:" + hex96, "@sha512:" + hex128, "@sha256:" + hex32, hex64, hex32,
	}
	const n = 5000
	var ok int
	for i := range n {
		var b strings.Builder
		if i%2 == 0 {
			for range rng.IntN(24) {
				b.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
			if rng.IntN(4) == 0 {
				b.WriteString("@" + sha256)
			}
		} else {
			for range 1 + rng.IntN(6) {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		if compare(t, b.String()) {
			ok++
		}
	}
	t.Logf("%d random inputs: %d valid", n, ok)
	if ok < n/20 {
		t.Errorf("only %d of %d random inputs are valid; the generator explores too little", ok, n)
	}
}

// FuzzParseNormalized runs the same comparison; go test runs the seeds,
// go test -fuzz explores further.
func FuzzParseNormalized(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { compare(t, s) })
}

// compare checks ParseNormalized(s) against the library and reports
// whether s is valid.
func compare(t *testing.T, s string) bool {
	t.Helper()
	want, wantErr := reference.ParseNormalizedNamed(s)
	got, err := ParseNormalized(s)
	if wantErr != nil || err != nil {
		if wantErr == nil || err == nil || err.Error() != wantErr.Error() {
			t.Errorf("ParseNormalized(%q): error %v, library %v", s, err, wantErr)
		}
		return false
	}

	var wantTag, wantDigest string
	if tagged, ok := want.(reference.Tagged); ok {
		wantTag = tagged.Tag()
	}
	if digested, ok := want.(reference.Digested); ok {
		wantDigest = digested.Digest().String()
	}
	for _, c := range []struct{ what, got, want string }{
		{"Domain", got.Domain, reference.Domain(want)},
		{"Path", got.Path, reference.Path(want)},
		{"Tag", got.Tag, wantTag},
		{"Digest", got.Digest, wantDigest},
		{"Name()", got.Name(), want.Name()},
		{"String()", got.String(), want.String()},
		{"NameOnly()", strconv.FormatBool(got.NameOnly()), strconv.FormatBool(reference.IsNameOnly(want))},
		{"FamiliarName()", got.FamiliarName(), reference.FamiliarName(want)},
		{"FamiliarString()", got.FamiliarString(), reference.FamiliarString(want)},
		{"WithDefaultTag().String()", got.WithDefaultTag().String(), reference.TagNameOnly(want).String()},
	} {
		if c.got != c.want {
			t.Errorf("ParseNormalized(%q).%s = %q, library %q", s, c.what, c.got, c.want)
		}
	}
	return true
}

// TestDigestAlgorithms makes sure the library sees the algorithms the
// comparison relies on.
func TestDigestAlgorithms(t *testing.T) {
	for _, a := range []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512} {
		if !a.Available() {
			t.Errorf("go-digest: %s not available", a)
		}
	}
}

// TestImports keeps the package free of what it replaces.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "regexp" || strings.Contains(p, "distribution") || strings.Contains(p, "go-digest") {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
