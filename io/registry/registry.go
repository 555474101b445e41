// Package registry is the one registry of drivers by URL scheme that view stores, sources,
// topics and model drivers share: drivers register from their init functions (as database/sql
// drivers do), and a URL finds its driver by its scheme. Its errors never show a URL's password.
package registry

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Registry holds the drivers D of one kind ("store", "source", ...) by scheme. It is safe for
// concurrent use.
type Registry[D any] struct {
	kind    string
	unknown error
	mu      sync.RWMutex
	drivers map[string]D
}

// New returns an empty registry of drivers of kind; lookups of an unregistered scheme fail with
// an error that wraps unknown.
func New[D any](kind string, unknown error) *Registry[D] {
	return &Registry[D]{kind: kind, unknown: unknown, drivers: map[string]D{}}
}

// Register makes d the driver of scheme. It panics if scheme is empty or registered twice.
func (r *Registry[D]) Register(scheme string, d D) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if scheme == "" {
		panic(r.kind + ": Register called with an empty scheme")
	}
	if _, dup := r.drivers[scheme]; dup {
		panic(r.kind + ": Register called twice for scheme " + scheme)
	}
	r.drivers[scheme] = d
}

// Schemes returns the registered schemes, sorted.
func (r *Registry[D]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.drivers))
	for s := range r.drivers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Get returns the driver of scheme, if one is registered.
func (r *Registry[D]) Get(scheme string) (D, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.drivers[scheme]
	return d, ok
}

// Unknown returns the error for a scheme that no driver registered, naming what is registered.
func (r *Registry[D]) Unknown(shown, scheme string) error {
	return fmt.Errorf("%s %q: %w %q (registered: %s)", r.kind, shown, r.unknown, scheme, strings.Join(r.Schemes(), ", "))
}

// Lookup parses rawURL and returns its driver and the parsed URL. Its errors show the URL
// without its password (a URL that does not parse is not shown at all).
func (r *Registry[D]) Lookup(rawURL string) (D, *url.URL, error) {
	var zero D
	u, err := url.Parse(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message would repeat the URL, password included
		}
		return zero, nil, fmt.Errorf("%s (malformed URL, not shown): %w", r.kind, err)
	}
	d, ok := r.Get(u.Scheme)
	if !ok {
		return zero, nil, r.Unknown(u.Redacted(), u.Scheme)
	}
	return d, u, nil
}
