package views

import (
	"testing"
	"time"
)

// TestRowKey: a row key names view, window start and key, whatever the key holds, and parses back.
func TestRowKey(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 1, 0, 0, time.UTC)
	for _, key := range []string{"", "DE", "https://x/?a=b\x1fc", "ü"} {
		k := RowKey(PageViews, start, key)
		view, gotStart, gotKey, err := ParseRowKey(k)
		if err != nil || view != PageViews || !gotStart.Equal(start) || gotKey != key {
			t.Errorf("ParseRowKey(RowKey(%q)) = %q, %s, %q, %v", key, view, gotStart, gotKey, err)
		}
	}
	for _, bad := range []string{"", "page_views", "page_views\x1fx\x1fk"} {
		if _, _, _, err := ParseRowKey(bad); err == nil {
			t.Errorf("ParseRowKey(%q) accepted it", bad)
		}
	}
	for _, spec := range All() {
		for i, m := range spec.Metrics {
			if spec.Index(m.Name) != i {
				t.Errorf("%s: Index(%s) = %d, want %d", spec.Name, m.Name, spec.Index(m.Name), i)
			}
		}
		if spec.Index("nope") != -1 {
			t.Errorf("%s: Index of an unknown metric is not -1", spec.Name)
		}
	}
}
