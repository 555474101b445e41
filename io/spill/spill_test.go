package spill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func TestWriterReader(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w := NewWriter(dir)
	values := []string{"a", "", strings.Repeat("x", 3<<20), "tail"}
	var refs []Ref
	for _, v := range values {
		r, err := w.Put([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var rd Reader
	defer rd.Close()
	for i := len(refs) - 1; i >= 0; i-- { // any order
		b, err := rd.Read(refs[i])
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != values[i] {
			t.Errorf("value %d came back as %d bytes, want %d", i, len(b), len(values[i]))
		}
	}
	if back, err := decodeRef(encodeRef(refs[2])); err != nil || back != refs[2] {
		t.Errorf("ref %+v came back as %+v (%v)", refs[2], back, err)
	}
}

func TestReadFailsClearly(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	r, err := w.Put([]byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var rd Reader
	defer rd.Close()
	for _, tt := range []struct {
		ref  Ref
		want string
	}{
		{Ref{Path: r.Path, Off: 1, Len: 5}, "unexpected EOF"},
		{Ref{Path: filepath.Join(dir, "gone.spill"), Len: 1}, "no such file"},
		{Ref{Path: "/etc/passwd", Len: 1}, "not a spill file"},
	} {
		if _, err := rd.Read(tt.ref); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Read(%+v) = %v, want an error containing %q", tt.ref, err, tt.want)
		}
	}
	if _, err := decodeRef(encodeRef(r)[:2]); err == nil {
		t.Error("decodeRef of a truncated reference succeeded")
	}
}

func TestRemoveStale(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"old", "new"} {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(filepath.Join(root, "old"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := RemoveStale(root, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if d := cmp.Diff([]string{"new"}, left); d != "" {
		t.Errorf("left after RemoveStale (-want +got):\n%s", d)
	}
	if err := RemoveStale(filepath.Join(root, "missing"), time.Hour); err != nil {
		t.Errorf("RemoveStale of a missing root = %v, want nil", err)
	}
}

func init() {
	register.Function2x0[int, func(int, []string)](fanOut)
	register.DoFn4x1[context.Context, int, func(*Ref) bool, func(string), error](&joinFn{})
	register.Emitter2[int, []string]()
	register.Emitter1[string]()
}

// fanOut emits n values over 3 keys.
func fanOut(n int, emit func(int, []string)) {
	for i := range n {
		emit(i%3, []string{fmt.Sprint(i), "v"})
	}
}

// joinFn reads the values of one key back and emits them joined and sorted.
type joinFn struct{}

func (joinFn) ProcessElement(_ context.Context, k int, refs func(*Ref) bool, emit func(string)) error {
	var got []string
	err := Each(refs, func(v []string) error {
		got = append(got, strings.Join(v, "/"))
		return nil
	})
	slices.Sort(got)
	emit(fmt.Sprintf("%d: %s", k, strings.Join(got, " ")))
	return err
}

// TestValuesThroughAGrouping spills values on Prism, groups the references and reads every
// value back under its key.
func TestValuesThroughAGrouping(t *testing.T) {
	dir := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	kvs := beam.ParDo(s, fanOut, beam.Create(s, 7))
	got := beam.ParDo(s, &joinFn{}, beam.GroupByKey(s, Values(s, dir, kvs)))
	passert.Equals(s, got, "0: 0/v 3/v 6/v", "1: 1/v 4/v", "2: 2/v 5/v")
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if len(files) == 0 {
		t.Error("no spill file was written")
	}
}
