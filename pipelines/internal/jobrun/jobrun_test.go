package jobrun

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

func TestList(t *testing.T) {
	if got := List(" a, ,b ,,c"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("List = %q, want a, b, c", got)
	}
	if got := List(""); len(got) != 0 {
		t.Errorf("List(\"\") = %q, want none", got)
	}
}

func TestProfileAndUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err := StartProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1e7; i++ {
		_ = i * i
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("profile %s: %v, %v; want a written profile", path, fi, err)
	}
	if _, err := StartProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "p")); err == nil {
		t.Error("StartProfile in a missing directory: no error")
	}
	if cpu, rss := Usage(); cpu <= 0 || rss <= 0 {
		t.Errorf("Usage = %v, %d; want both positive", cpu, rss)
	}
}

func TestCounts(t *testing.T) {
	m := map[string]int64{"b": 2, "a": 1}
	if got := Counts(m, "%s=%d", " "); got != "a=1 b=2" {
		t.Errorf("Counts = %q", got)
	}
	if got := Counts(nil, "%s %d", ", "); got != "" {
		t.Errorf("Counts(nil) = %q, want empty", got)
	}
}

// TestJobOptions: a run's job name and experiments are set for the run only; restore puts the
// flags back, and a name or experiment the user gave is kept.
func TestJobOptions(t *testing.T) {
	name, restore := JobOptions("generated", "x_exp")
	if name != "generated" || !slices.Contains(jobopts.GetExperiments(), "x_exp") {
		t.Errorf("during the run: name %q, experiments %v", name, jobopts.GetExperiments())
	}
	restore()
	if *jobopts.JobName != "" || slices.Contains(jobopts.GetExperiments(), "x_exp") {
		t.Errorf("after restore: name %q, experiments %v; want the flags as they were", *jobopts.JobName, jobopts.GetExperiments())
	}
	*jobopts.JobName, *jobopts.Experiments = "mine", "x_exp"
	defer func() { *jobopts.JobName, *jobopts.Experiments = "", "" }()
	name, restore = JobOptions("generated", "x_exp")
	defer restore()
	if name != "mine" || *jobopts.Experiments != "x_exp" {
		t.Errorf("with flags given: name %q, experiments %q; want them kept, not doubled", name, *jobopts.Experiments)
	}
}
