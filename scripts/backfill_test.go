package scripts_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

// publishedRuns returns the run serving each published day of the store at url.
func publishedRuns(t *testing.T, url string) map[string]string {
	t.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pubs, err := st.Publications(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pubs {
		out[p.Day.Format(time.DateOnly)] = p.Run
	}
	return out
}

// backfillEnv sets backfill.sh's settings through the environment, as cron would.
func backfillEnv(t *testing.T) (env []string, storeURL string) {
	dir := t.TempDir()
	storeURL = "sqlite://" + filepath.Join(dir, "views.db")
	return []string{"BEAMLINE_LAKE=" + sampleLake, "BEAMLINE_STORE=" + storeURL,
		"BEAMLINE_DEADLETTER=" + filepath.Join(dir, "dead"), "BEAMLINE_REFERENCE=" + categories,
		"BEAMLINE_BATCH_BIN=" + batchBinary(t)}, storeURL
}

func TestBackfillDayByDay(t *testing.T) {
	env, storeURL := backfillEnv(t)
	r := script(t, 2*time.Minute, env, "backfill.sh", "--from=2026-11-20", "--to", "2026-11-21")
	if r.code != 0 {
		t.Fatalf("backfill.sh: exit %d\n%s", r.code, r.stderr)
	}
	runs := publishedRuns(t, storeURL)
	if len(runs) != 2 || runs["2026-11-20"] == runs["2026-11-21"] {
		t.Errorf("published %v, want 2026-11-20 and 2026-11-21, each by its own run", runs)
	}
	if n := strings.Count(r.stdout, "\nread "); n != 2 {
		t.Errorf("%d conservation lines in the output, want one per day:\n%s", n, r.stdout)
	}
}

func TestBackfillRange(t *testing.T) {
	env, storeURL := backfillEnv(t)
	r := script(t, 2*time.Minute, env, "backfill.sh", "--from=2026-11-20", "--to=2026-11-21", "--range")
	if r.code != 0 {
		t.Fatalf("backfill.sh --range: exit %d\n%s", r.code, r.stderr)
	}
	if runs := publishedRuns(t, storeURL); len(runs) != 2 || runs["2026-11-20"] != runs["2026-11-21"] {
		t.Errorf("published %v, want both days by one run", runs)
	}
}

// TestBackfillSaysWhichDayFailed backfills a range whose last days have no data: it goes on
// with --keep_going, publishes the good day, exits non-zero and names each failed day and why.
func TestBackfillSaysWhichDayFailed(t *testing.T) {
	env, storeURL := backfillEnv(t)
	r := script(t, 2*time.Minute, env, "backfill.sh", "--from=2026-11-21", "--to=2026-11-23", "--keep_going")
	if r.code == 0 {
		t.Fatal("backfill.sh over days without data: exit 0, want a failure")
	}
	for _, want := range []string{
		"FAILED day 2026-11-22", "no files under ../testdata/lake/raw/dt=2026-11-22",
		"FAILED day 2026-11-23", "failed: 2026-11-22 2026-11-23 (of days 2026-11-21..2026-11-23)",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}
	if runs := publishedRuns(t, storeURL); len(runs) != 1 || runs["2026-11-21"] == "" {
		t.Errorf("published %v, want only 2026-11-21", runs)
	}
}

// TestBackfillDefaultsToYesterday runs without --from: it backfills yesterday (UTC), which
// either is in the sample lake (and is published) or is not (and fails, named).
func TestBackfillDefaultsToYesterday(t *testing.T) {
	env, _ := backfillEnv(t)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	r := script(t, time.Minute, env, "backfill.sh")
	want := "FAILED day " + yesterday
	if r.code == 0 {
		want = "published day " + yesterday
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("backfill.sh without --from: exit %d, want it to say %q:\n%s", r.code, want, r.stderr)
	}
}

func TestBackfillUsageErrors(t *testing.T) {
	env, _ := backfillEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from=2026-11-21", "--to=2026-11-20"}, "--from 2026-11-21 is after --to 2026-11-20"},
		{[]string{"--from=2026-13-01"}, "--from=2026-13-01 is not a day"},
		{[]string{"--lake"}, "--lake needs a value"},
		{[]string{"--bogus=1"}, "unknown option --bogus"},
	} {
		r := script(t, 10*time.Second, env, "backfill.sh", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("backfill.sh %v: exit %d, stderr %q; want exit 2 saying %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
