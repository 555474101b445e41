package topic

import (
	"errors"
	"testing"
)

func TestFailed(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	if n, first := Failed([]error{nil, a, nil, b}); n != 2 || first != a {
		t.Errorf("Failed = %d, %v; want 2, a", n, first)
	}
	if n, first := Failed([]error{nil, nil}); n != 0 || first != nil {
		t.Errorf("Failed of no failure = %d, %v; want 0, nil", n, first)
	}
}
