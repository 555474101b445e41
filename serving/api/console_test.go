package api

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// chromium returns the path of a headless-capable Chromium. .ci/run installs Debian's and sets
// BEAMLINE_REQUIRE_CHROMIUM=1, which makes a missing browser fail the test instead of skipping
// it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BEAMLINE_REQUIRE_CHROMIUM") != "" {
		t.Fatal("no chromium on PATH: install Debian's chromium package (.ci/run does)")
	}
	t.Skip("no chromium on PATH (set BEAMLINE_REQUIRE_CHROMIUM=1 to make this a failure; .ci/run does)")
	return ""
}

// browse loads url in headless Chromium and returns the DOM after the page's scripts ran, and
// with shot set, writes a screenshot there.
func browse(t *testing.T, bin, url, shot string) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=15000", "--window-size=1280,1000"}
	if shot != "" {
		args = append(args, "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, errs.String())
	}
	return out.String()
}

// TestConsoleInBrowser loads the console (/ui) in headless Chromium against a store with a
// published day, speed rows after it and a recorded run, behind a bearer token, and checks the
// numbers the page rendered against the test data, that the chart drew (in the DOM and in the
// screenshot's pixels), and keeps the screenshot ($BEAMLINE_ARTIFACTS, else the temp dir).
func TestConsoleInBrowser(t *testing.T) {
	bin := chromium(t)
	st := openStore(t)
	cut := day0.AddDate(0, 0, 1)
	keys := []string{"https://shop.example/a", "https://shop.example/b", "https://shop.example/c"}
	var batch, speed []views.Row
	sums := map[string]int64{}
	for i, key := range keys {
		for w := cut.Add(-6 * time.Hour); w.Before(cut.Add(3 * time.Hour)); w = w.Add(10 * time.Minute) {
			v := int64(i+1)*10 + int64(w.Hour()%5)
			r := row(views.PageViews, key, w, pv(v, 1))
			sums[key] += v
			if w.Before(cut) {
				batch = append(batch, r)
			} else {
				speed = append(speed, r)
			}
		}
	}
	run := store.NewRunID(cut.Add(3 * time.Hour))
	writeBatch(t, st, run, batch...)
	publish(t, st, run, day0)
	upsertSpeed(t, st, speed...)
	ctx := context.Background()
	if err := st.SetSpeedWatermark(ctx, cut.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	report := `{"Read":1234,"Processed":1200,"Quality":{"DeadLetterRate":0.0125,"Failed":null}}`
	if err := st.RecordRun(ctx, store.RunInfo{Run: run, Days: []time.Time{day0}, Status: store.RunPublished,
		Started: cut.Add(3 * time.Hour), Ended: cut.Add(3*time.Hour + time.Minute), Report: report}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newTestServer(t, st, &Options{AuthToken: "s3cret"}))
	defer srv.Close()

	// Without the token the page loads but shows the API's refusal, and no number.
	dom := browse(t, bin, srv.URL+"/ui/", "")
	if !strings.Contains(dom, "401") || strings.Contains(dom, "2026-11-21 00:00:00 UTC") {
		t.Errorf("without the token the console should show the 401 and no data:\n%s", excerpt(dom))
	}

	page := srv.URL + "/ui/?view=page_views&metric=views&granularity=1h&key=" + keys[2] +
		"&from=" + rfc(cut.Add(-6*time.Hour)) + "&to=" + rfc(cut.Add(3*time.Hour)) + "#token=s3cret"
	dom = browse(t, bin, page, "")
	want := map[string]string{
		`id="cutoff">([^<]*)<`:               "2026-11-21 00:00:00 UTC",
		`id="watermark">([^<]*)<`:            "2026-11-21 03:00:00 UTC",
		`id="published">([^<]*)<`:            "1",
		`id="error" role="alert">([^<]*)<`:   "",
		`id="chart"[^>]*data-points="(\d+)"`: "9", // 9 hours at granularity 1h
		`id="chart"[^>]*data-drawn="(\w*)"`:  "yes",
		`id="chart"[^>]*data-total="(\d+)"`:  fmt.Sprint(sums[keys[2]]),
	}
	for re, w := range want {
		m := regexp.MustCompile(re).FindStringSubmatch(dom)
		if m == nil || m[1] != w {
			t.Errorf("%s: got %v, want %q", re, m, w)
		}
	}
	if !regexp.MustCompile(`id="chart"[^>]*data-cutoff-x="\d+"`).MatchString(dom) {
		t.Errorf("the chart did not draw the batch cutoff:\n%s", excerpt(dom))
	}
	// The top table, in order, against the sums of the test data.
	ranked := slices.Clone(keys)
	slices.SortFunc(ranked, func(a, b string) int { return int(sums[b] - sums[a]) })
	var wantTop []string
	for i, k := range ranked {
		wantTop = append(wantTop, fmt.Sprintf(`<td class="num">%d</td><td>%s</td><td class="num">%s</td>`, i+1, k, thousands(sums[k])))
	}
	if !strings.Contains(dom, strings.Join(wantTop, "</tr><tr>")) {
		t.Errorf("top table: want rows %v in:\n%s", wantTop, excerpt(dom))
	}
	for _, w := range []string{run, "published", "1,234", "1,200", "1.25%", "passed"} {
		if !strings.Contains(dom, "<td>"+w+"</td>") && !strings.Contains(dom, `<td class="num">`+w+"</td>") {
			t.Errorf("runs table: no cell %q in:\n%s", w, excerpt(dom))
		}
	}

	dir := os.Getenv("BEAMLINE_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	shot := filepath.Join(dir, "beamline-console.png")
	browse(t, bin, page, shot)
	t.Logf("screenshot: %s", shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// The series line (#1f77b4) and the cutoff line (#d62728) are drawn on the canvas.
	blue, red := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if near(r, 0x1f) && near(g, 0x77) && near(bl, 0xb4) {
				blue++
			}
			if r > 0xb0 && g < 0x70 && bl < 0x70 {
				red++
			}
		}
	}
	if blue < 200 || red < 50 {
		t.Errorf("screenshot %s: %d pixels of the series colour, %d of the cutoff line; want the chart drawn", shot, blue, red)
	}
}

func near(a uint32, b int) bool { return int(a) >= b-12 && int(a) <= b+12 }

// thousands formats n as the page does (en-US grouping).
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// excerpt returns the body of a dumped DOM, without the vendored library's markup.
func excerpt(dom string) string {
	if i := strings.Index(dom, "<body>"); i >= 0 {
		dom = dom[i:]
	}
	if len(dom) > 4000 {
		dom = dom[:4000] + "..."
	}
	return dom
}
