package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/serving/api"
)

// TestFillAndDrive fills a small store and drives a real server over it, as the benchmark does.
func TestFillAndDrive(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "views.db")
	if err := fill([]string{"--store=" + url, "--day=2026-11-20", "--keys=3", "--speed_hours=1"}); err != nil {
		t.Fatalf("fill: %v", err)
	}
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pubs, err := st.Publications(context.Background())
	if err != nil || len(pubs) != 1 || !pubs[0].Day.Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("publications after fill = %v, %v; want 2026-11-20", pubs, err)
	}
	srv := httptest.NewServer(api.New(st, &api.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	l := &load{client: srv.Client(), targets: []string{srv.URL + "/v1/views/page_views?key=" + keyName(0) +
		"&from=2026-11-20T23:30:00Z&to=2026-11-21T00:30:00Z"}}
	res := l.drive(50, 4)
	if res.errors != 0 || len(res.latencies) != 50 || !strings.Contains(res.String(), "req/s") {
		t.Errorf("drive = %v (first error %v)", res, res.firstErr)
	}
	resp, err := srv.Client().Get(l.targets[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), `"layer":"batch"`); n != 31 { // 30 rows and the layers entry
		t.Errorf("answer has %d batch mentions, want 31: %s", n, body)
	}
	if n := strings.Count(string(body), `"layer":"speed"`); n != 31 {
		t.Errorf("answer has %d speed mentions, want 31: %s", n, body)
	}
}
