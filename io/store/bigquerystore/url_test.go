package bigquerystore

import (
	"net/url"
	"testing"
)

func TestParseURL(t *testing.T) {
	good := map[string][2]string{
		"bigquery://my-project/views":       {"my-project", "views"},
		"bigquery://my-project/views_2026/": {"my-project", "views_2026"},
	}
	for raw, want := range good {
		u, _ := url.Parse(raw)
		p, d, err := parse(u)
		if err != nil || p != want[0] || d != want[1] {
			t.Errorf("parse(%s) = %q, %q, %v; want %q, %q", raw, p, d, err, want[0], want[1])
		}
	}
	for _, raw := range []string{"bigquery://", "bigquery://p", "bigquery://p/a-b", "bigquery://p/a/b",
		"bigquery://p/v?x=1", "bigquery://u@p/v", "bigquery://P_x/v", "bigquery:p/v"} {
		u, err := url.Parse(raw)
		if err != nil {
			continue // store.Open rejects it before the driver sees it
		}
		if p, d, err := parse(u); err == nil {
			t.Errorf("parse(%s) = %q, %q, nil; want an error", raw, p, d)
		}
	}
}
