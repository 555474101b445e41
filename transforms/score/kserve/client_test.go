package kserve_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/internal/beamtest"
	"github.com/beamline/beamline/transforms/score"
	"github.com/beamline/beamline/transforms/score/kserve"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// lengthModel scores a post by the length of its text (len/100, at most 1): easy to check
// through the protocol.
type lengthModel struct{}

func (lengthModel) Predict(_ context.Context, batch []score.Features) ([]float32, error) {
	out := make([]float32, len(batch))
	for i, f := range batch {
		out[i] = min(float32(len(f.Text))/100, 1)
	}
	return out, nil
}

func (lengthModel) Close() error { return nil }

// server is a KServe v2 server (kserve.Handler) behind a fault injector: the first failFirst
// requests get failStatus (all of them when failFirst < 0), and with stall the first request
// gets no answer until the client gives up on it.
type server struct {
	*httptest.Server
	failFirst  int64
	failStatus int
	retryAfter string
	stall      bool

	mu       sync.Mutex
	requests []time.Time
}

func newServer(t *testing.T, configure func(*server)) *server {
	t.Helper()
	s := &server{failStatus: http.StatusServiceUnavailable}
	if configure != nil {
		configure(s)
	}
	h := kserve.Handler("spam", lengthModel{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, time.Now())
		n := int64(len(s.requests))
		s.mu.Unlock()
		if s.failFirst < 0 || n <= s.failFirst {
			if s.retryAfter != "" {
				w.Header().Set("Retry-After", s.retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(s.failStatus)
			fmt.Fprintf(w, `{"error":"injected failure %d"}`, n)
			return
		}
		if s.stall && n == 1 {
			// Wait for the client's timeout to cancel the request: once the body is read, the
			// server notices the closed connection. The limit only keeps a broken client from
			// hanging the test.
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *server) modelURL(query string) string {
	u := "kserve+" + s.URL + "/v2/models/spam"
	if query != "" {
		u += "?" + query
	}
	return u
}

var batch = []score.Features{{Text: strings.Repeat("x", 10)}, {Text: strings.Repeat("y", 50), UserAgent: "ua", URL: "https://u"}, {}}

func open(t *testing.T, modelURL string) score.Model {
	t.Helper()
	m, err := score.Open(context.Background(), modelURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestPredictThroughTheProtocol(t *testing.T) {
	s := newServer(t, nil)
	got, err := open(t, s.modelURL("")).Predict(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]float32{0.1, 0.5, 0}, got); d != "" {
		t.Errorf("scores (-want +got):\n%s", d)
	}
	if s.count() != 1 {
		t.Errorf("%d requests for one batch, want 1", s.count())
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*server)
		query     string
		wantReqs  int
		wantErr   bool
	}{
		{"503 twice, then success", func(s *server) { s.failFirst = 2 }, "backoff=1ms&attempts=4", 3, false},
		{"429 with Retry-After, capped by max_backoff", func(s *server) { s.failFirst, s.failStatus, s.retryAfter = 1, 429, "30" }, "backoff=1ms&max_backoff=20ms", 2, false},
		{"a timed-out attempt is retried", func(s *server) { s.stall = true }, "timeout=50ms&backoff=1ms", 2, false},
		{"400 is not retried", func(s *server) { s.failFirst, s.failStatus = 1, 400 }, "backoff=1ms", 1, true},
		{"always 500: gives up after the last attempt", func(s *server) { s.failFirst, s.failStatus = -1, 500 }, "backoff=1ms&attempts=3", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.configure)
			waits, restore := kserve.RecordSleeps()
			defer restore()
			got, err := open(t, s.modelURL(tt.query)).Predict(context.Background(), batch)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Predict error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && len(got) != len(batch) {
				t.Errorf("%d scores for %d events", len(got), len(batch))
			}
			var se *kserve.StatusError
			if tt.wantErr && !errors.As(err, &se) {
				t.Errorf("error %v is not a *kserve.StatusError", err)
			}
			if s.count() != tt.wantReqs {
				t.Errorf("%d requests, want %d", s.count(), tt.wantReqs)
			}
			if w := waits(); len(w) != tt.wantReqs-1 || slices.Max(append(w, 0)) > 20*time.Millisecond {
				t.Errorf("backoff waits %v: want one per retry (%d), each at most 20ms (max_backoff, or the 1ms backoff's jitter)", w, tt.wantReqs-1)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t, nil)
	m := open(t, s.modelURL("rps=20&burst=1"))
	const calls = 6
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Predict(context.Background(), batch); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A bucket of 1 token refilled at 20/s lets the first request through at once and one more
	// every 50 ms: 6 requests take at least 250 ms, however many callers.
	if elapsed := time.Since(start); elapsed < 240*time.Millisecond {
		t.Errorf("%d requests at 20 rps took %s, want >= 250ms", calls, elapsed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 1; i < len(s.requests); i++ {
		if gap := s.requests[i].Sub(s.requests[i-1]); gap < 40*time.Millisecond {
			t.Errorf("requests %d and %d arrived %s apart, want about 50ms", i-1, i, gap)
		}
	}
}

func TestCancelledContextStopsRetrying(t *testing.T) {
	s := newServer(t, func(s *server) { s.failFirst = -1 })
	m := open(t, s.modelURL("backoff=200ms&max_backoff=200ms&attempts=10"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := m.Predict(ctx, batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Predict error = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s after the context ended", time.Since(start))
	}
}

func TestBadResponses(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"not JSON", `<html>`},
		{"no score output", `{"outputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1,2,3]},{"name":"b","shape":[3],"datatype":"FP32","data":[1,2,3]}]}`},
		{"too few scores", `{"outputs":[{"name":"score","shape":[2],"datatype":"FP32","data":[0.1,0.2]}]}`},
		{"wrong datatype", `{"outputs":[{"name":"score","shape":[3],"datatype":"BYTES","data":["a","b","c"]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			_, err := open(t, "kserve+"+srv.URL+"/v2/models/m?backoff=1ms").Predict(context.Background(), batch)
			if !errors.Is(err, kserve.ErrBadResponse) {
				t.Errorf("error = %v, want kserve.ErrBadResponse", err)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests: a malformed response must not be retried", n.Load())
			}
		})
	}
}

func TestNestedOutputShape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"model_name":"m","outputs":[{"name":"probability","shape":[3,1],"datatype":"FP32","data":[[0.25],[0.5],[1]]}]}`)
	}))
	defer srv.Close()
	got, err := open(t, "kserve+"+srv.URL+"/v2/models/m").Predict(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]float32{0.25, 0.5, 1}, got); d != "" {
		t.Errorf("scores (-want +got):\n%s", d)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{
		"kserve+ftp://host/v2/models/m",
		"kserve+http://host/models/m",
		"kserve+http://host/v2/models/m?timeout=soon",
		"kserve+http://host/v2/models/m?colour=red",
	} {
		if _, err := score.Open(context.Background(), u); err == nil {
			t.Errorf("Open(%q): no error", u)
		}
	}
	if _, err := score.Open(context.Background(), "kserve://host:8080/v2/models/m"); err != nil {
		t.Errorf("kserve:// (plain http): %v", err)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(kserve.Handler("spam", lengthModel{}))
	defer srv.Close()
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v2/health/ready", "", 200},
		{"GET", "/v2/models/spam/ready", "", 200},
		{"GET", "/v2/models/other/ready", "", 404},
		{"GET", "/v2/models/spam", "", 200},
		{"POST", "/v2/models/spam/infer", `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["hi"]}]}`, 200},
		{"POST", "/v2/models/spam/infer", `{"inputs":[{"name":"text","shape":[1],"datatype":"FP32","data":[1]}]}`, 400},
		{"POST", "/v2/models/spam/infer", `{"inputs":[{"name":"url","shape":[1],"datatype":"BYTES","data":["u"]}]}`, 400},
		{"POST", "/v2/models/spam/infer", `{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["a","b"]},{"name":"url","shape":[1],"datatype":"BYTES","data":["u"]}]}`, 400},
		{"POST", "/v2/models/spam/infer", `{`, 400},
		{"POST", "/v2/models/other/infer", `{"inputs":[]}`, 404},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s %s: status %d, want %d", tt.method, tt.path, tt.body, resp.StatusCode, tt.want)
		}
	}
}

func init() {
	register.Function1x2[event.Event, beam.EventTime, event.Event](stamp)
	register.Function1x1[event.DeadLetter, string](deadLine)
	register.Function1x1[event.Event, string](scoredLine)
}

func stamp(e event.Event) (beam.EventTime, event.Event) { return mtime.FromTime(e.Time), e }

func deadLine(dl event.DeadLetter) string {
	return dl.Reason + " " + dl.Source + " " + string(dl.Raw)
}

func scoredLine(e event.Event) string { return fmt.Sprintf("%s %.2f", e.ID, e.Score) }

// TestFailingServerDeadLettersOnPrism scores through a server that always fails: every post
// ends up dead-lettered with its raw bytes, counted once, after the last retry; the pipeline
// succeeds and events that are not posts pass.
func TestFailingServerDeadLettersOnPrism(t *testing.T) {
	s := newServer(t, func(s *server) { s.failFirst = -1 })
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var events []event.Event
	var want []string
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("p%d", i)
		raw := fmt.Sprintf(`{"event_id":%q}`, id)
		events = append(events, event.Event{ID: id, Type: event.TypePost, UserID: "u", Text: "hi", Time: t0.Add(time.Duration(i) * time.Second), Raw: []byte(raw)})
		want = append(want, "score_failed event_id="+id+" "+raw)
	}
	events = append(events, event.Event{ID: "c", Type: event.TypeClick, UserID: "u", URL: "x", Time: t0})

	p, sc := beam.NewPipelineWithRoot()
	in := beam.ParDo(sc, stamp, beam.CreateList(sc, events))
	scored, dead := score.Events(sc, score.Config{Model: s.modelURL("backoff=1ms&attempts=3"), BatchSize: 4}, in)
	beamtest.Equal(sc, beam.ParDo(sc, deadLine, dead), want)
	beamtest.Equal(sc, beam.ParDo(sc, scoredLine, scored), []string{"c 0.00"})
	res, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatalf("pipeline failed: %v; want failures dead-lettered", err)
	}
	got := beamtest.Counters(res, "beamline")
	// 10 posts in batches of at most 4 (at least 3 batches), 3 attempts each.
	batches := got["score_remote_requests"] / 3
	if got["deadlettered_score_failed"] != 10 || got["processed"] != -10 || got["scored"] != 0 ||
		got["score_remote_requests"]%3 != 0 || batches < 3 || got["score_remote_retries"] != 2*batches {
		t.Errorf("counters = %v; want 10 dead-lettered (processed -10), 3 requests and 2 retries per batch", got)
	}
	if int64(s.count()) != got["score_remote_requests"] {
		t.Errorf("server saw %d requests, counter says %d", s.count(), got["score_remote_requests"])
	}
}
