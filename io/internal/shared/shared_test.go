package shared

import (
	"errors"
	"testing"
)

func TestPool(t *testing.T) {
	var p Pool[*int]
	opened, closed := 0, 0
	open := func() (*int, error) { opened++; v := opened; return &v, nil }
	a, _ := p.Get("k", open)
	b, _ := p.Get("k", open)
	c, _ := p.Get("other", open)
	if a != b || a == c || opened != 2 {
		t.Fatalf("Get: a=%p b=%p c=%p after %d opens, want a == b != c after 2", a, b, c, opened)
	}
	closeFn := func(*int) { closed++ }
	p.Release("k", closeFn)
	if closed != 0 {
		t.Fatal("the value was closed while a reference was left")
	}
	p.Release("k", closeFn)
	if closed != 1 {
		t.Fatalf("closed %d times after the last release, want 1", closed)
	}
	p.Release("k", closeFn) // nothing left: no-op
	if d, _ := p.Get("k", open); d == a || opened != 3 {
		t.Error("a Get after the last release did not open a new value")
	}
	boom := errors.New("boom")
	if _, err := p.Get("bad", func() (*int, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("Get with a failing open = %v, want %v", err, boom)
	}
	if _, ok := p.m["bad"]; ok {
		t.Error("a failed open was kept")
	}
}
