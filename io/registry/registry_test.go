package registry

import (
	"errors"
	"strings"
	"testing"
)

var errUnknown = errors.New("unknown thing scheme")

func TestRegistry(t *testing.T) {
	r := New[int]("thing", errUnknown)
	r.Register("b", 2)
	r.Register("a", 1)
	if got := strings.Join(r.Schemes(), ","); got != "a,b" {
		t.Errorf("Schemes = %s, want a,b", got)
	}
	d, u, err := r.Lookup("b://host/path?x=1")
	if err != nil || d != 2 || u.Host != "host" {
		t.Errorf("Lookup(b://...) = %v, %v, %v", d, u, err)
	}
	_, _, err = r.Lookup("c://user:s3cret@host/x")
	if !errors.Is(err, errUnknown) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "registered: a, b") {
		t.Errorf("Lookup of an unknown scheme: %v; want %v, the registered schemes and no password", err, errUnknown)
	}
	_, _, err = r.Lookup("b://user:s3cret@host:bad port/x")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Lookup of a malformed URL: %v; want an error without the password", err)
	}
	for _, scheme := range []string{"a", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) again or empty: no panic", scheme)
				}
			}()
			r.Register(scheme, 3)
		}()
	}
}
