package scripts_test

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
)

// TestDemo runs the README's local command, scripts/demo.sh, as a newcomer would (shorter): the
// generator feeds the streaming job, the API answers from the speed layer, the batch job
// backfills the closed day of the archive, and the API answers across the cutoff. It checks
// what the demo shows: both jobs account for every record, the batch job reads back exactly the
// records the streaming job archived (its own day's, and the next day's as context), and the
// cutoff moves from none to the end of the backfilled day.
func TestDemo(t *testing.T) {
	port := freeTCPPort(t)
	r := script(t, 5*time.Minute, nil, "demo.sh", "--out", t.TempDir(), "--port", fmt.Sprint(port),
		"--run_for", "20s", "--rate", "100")
	if r.code != 0 {
		t.Fatalf("demo.sh: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	archived := counter(t, r.stdout, `archived (\d+), acked`)
	if archived == 0 {
		t.Fatalf("the streaming job archived nothing:\n%s", r.stdout)
	}
	reads := regexp.MustCompile(`(?m)^read (\d+), processed (\d+), filtered (\d+), duplicates (\d+), dead-lettered (\d+)$`).FindAllStringSubmatch(r.stdout, -1)
	if len(reads) != 1 {
		t.Fatalf("want the batch job's conservation line once, got %d:\n%s", len(reads), r.stdout)
	}
	var n [5]int
	for i := range n {
		fmt.Sscan(reads[0][i+1], &n[i])
	}
	context := counter(t, r.stdout, `(?m)^context (\d+) `)
	if n[0]+context != archived || n[0] != n[1]+n[2]+n[3]+n[4] || n[0] == 0 || context == 0 {
		t.Errorf("the backfill read %d records (processed %d + filtered %d + duplicates %d + dead-lettered %d) and %d of the next day as context, the streaming job archived %d",
			n[0], n[1], n[2], n[3], n[4], context, archived)
	}

	// The archive was compacted before the backfill read it (the conservation check above
	// holds across the compaction). Hours still open (the demo's last ones, when it runs just
	// after midnight) are left as they are.
	m := regexp.MustCompile(`(?m)^(\d+) hours: files (\d+) -> (\d+), (\d+) records compacted$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no compaction summary in:\n%s", r.stdout)
	}
	var hours, filesBefore, filesAfter, compacted int
	fmt.Sscan(m[1]+" "+m[2]+" "+m[3]+" "+m[4], &hours, &filesBefore, &filesAfter, &compacted)
	if compacted > 0 && filesAfter >= filesBefore || compacted > archived {
		t.Errorf("compaction: %s", m[0])
	}
	t.Logf("compaction: %s", m[0])

	answers := apiAnswers(t, r.stdout)
	if len(answers) != 6 {
		t.Fatalf("want 6 API answers (status and top, before and after the backfill, then the runs and the catalog), got %d:\n%s", len(answers), r.stdout)
	}
	if vs, _ := answers[5]["views"].([]any); len(vs) != len(views.All()) {
		t.Errorf("GET /v1/views after the demo = %v, want its %d views", answers[5], len(views.All()))
	} else if b, _ := vs[0].(map[string]any)["batch"].(map[string]any); b["published_days"] != 1.0 {
		t.Errorf("GET /v1/views: the batch layer of %v, want the demo's one published day", vs[0])
	}
	if runs, _ := answers[4]["runs"].([]any); len(runs) != 1 || runs[0].(map[string]any)["status"] != "published" {
		t.Errorf("GET /v1/runs after the demo = %v, want its one published run", answers[4])
	}
	before, after := answers[0]["batch_cutoff"], answers[2]["batch_cutoff"]
	if want := time.Now().UTC().Add(-10 * time.Minute).Truncate(24 * time.Hour).Format(time.RFC3339); before != nil || after != want {
		t.Errorf("batch cutoff %v before the backfill and %v after, want none and then %s (the end of the closed day)", before, after, want)
	}
	for i, a := range []map[string]any{answers[1], answers[3]} {
		top, _ := a["top"].([]any)
		if len(top) == 0 {
			t.Errorf("top answer %d is empty: %v", i+1, a)
		}
	}
}

// counter returns the number that re's only group matches in out.
func counter(t *testing.T, out, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in:\n%s", re, out)
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

// apiAnswers decodes the JSON line that follows each "GET " line of the demo's output.
func apiAnswers(t *testing.T, out string) []map[string]any {
	t.Helper()
	lines := strings.Split(out, "\n")
	var answers []map[string]any
	for i, line := range lines {
		if !strings.HasPrefix(line, "GET ") || i+1 >= len(lines) {
			continue
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(lines[i+1]), &a); err != nil {
			t.Fatalf("the answer to %s is not JSON: %v\n%s", line, err, lines[i+1])
		}
		answers = append(answers, a)
	}
	return answers
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
