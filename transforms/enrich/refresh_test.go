package enrich

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"

	"github.com/beamline/beamline/io/event"
)

// TestRefreshingRereadsTheTable drives the DoFn through bundles while its CSV changes: it
// serves the initial table, picks up the new file after the interval, and keeps the last good
// table when the file cannot be read.
func TestRefreshingRereadsTheTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "categories.csv")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("url_prefix,category\nhttps://a/,new\n")
	f := &refreshFn{Path: path, Every: time.Hour, Initial: []Prefix{{Prefix: "https://a/", Category: "old"}}}
	f.Setup()
	category := func() string {
		var got string
		f.StartBundle(context.Background(), nil)
		f.ProcessElement(context.Background(), event.Event{URL: "https://a/1"}, func(e event.Event) { got = e.Category })
		return got
	}
	if got := category(); got != "old" {
		t.Errorf("before the interval: %q, want the initial table's %q", got, "old")
	}
	f.loaded = f.loaded.Add(-2 * time.Hour)
	if got := category(); got != "new" {
		t.Errorf("after the interval: %q, want the file's %q", got, "new")
	}
	write("not a reference")
	f.loaded = f.loaded.Add(-2 * time.Hour)
	if got := category(); got != "new" {
		t.Errorf("after a failed read: %q, want the last good table's %q", got, "new")
	}
}
