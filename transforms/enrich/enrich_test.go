package enrich

import (
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

var prefixes = []Prefix{
	{"https://shop.example/", "shop"},
	{"https://shop.example/p/", "product"},
	{"https://shop.example/p/1", "hero"},
	{"https://blog.example/", "blog"},
}

func TestTableLongestPrefix(t *testing.T) {
	table := NewTable(prefixes)
	tests := map[string]string{
		"https://shop.example/p/12": "hero",
		"https://shop.example/p/2":  "product",
		"https://shop.example/c/a":  "shop",
		"https://shop.example/":     "shop",
		"https://shop.example":      Unknown,
		"https://blog.example/x":    "blog",
		"https://other.example/p/":  Unknown,
		"":                          Unknown,
		"HTTPS://SHOP.EXAMPLE/p/1":  Unknown,
	}
	for url, want := range tests {
		if got := table.Category(url); got != want {
			t.Errorf("Category(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestParseCSV(t *testing.T) {
	got, err := parseCSV(strings.NewReader("url_prefix,category\nhttps://a/,a\nhttps://b/,b\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Prefix{{"https://a/", "a"}, {"https://b/", "b"}}, got); d != "" {
		t.Errorf("parseCSV (-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "prefix,cat\n", "url_prefix,category\nx\n", "url_prefix,category\n,a\n"} {
		if _, err := parseCSV(strings.NewReader(bad), "bad.csv"); err == nil {
			t.Errorf("parseCSV(%q): no error", bad)
		}
	}
}

func TestCategories(t *testing.T) {
	in := []event.Event{{ID: "1", URL: "https://shop.example/p/9"}, {ID: "2"}, {ID: "3", URL: "https://blog.example/"}}
	want := []event.Event{{ID: "1", URL: "https://shop.example/p/9", Category: "product"}, {ID: "2", Category: Unknown}, {ID: "3", URL: "https://blog.example/", Category: "blog"}}
	p, s := beam.NewPipelineWithRoot()
	beamtest.Equal(s, Categories(s, beam.CreateList(s, prefixes), beam.CreateList(s, in)), want)
	beamtest.Equal(s.Scope("fixed"), Fixed(s, prefixes, beam.CreateList(s, in)), want)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}
