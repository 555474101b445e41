package archive

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/source"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// recorder is a source driver for tests whose acker records what it acknowledged; the test's
// workers run in this process (Prism, loopback), so the test sees it.
type recorder struct {
	mu    sync.Mutex
	acked []string
}

func (r *recorder) Validate(*url.URL) error { return nil }

func (r *recorder) Read(s beam.Scope, _ *url.URL, _ source.Options) beam.PCollection {
	panic("recorder: not a reader")
}

func (r *recorder) OpenAcker(context.Context, *url.URL) (source.Acker, error) { return r, nil }

func (r *recorder) Ack(_ context.Context, ids []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked = append(r.acked, ids...)
	return nil
}

func (r *recorder) Close() error { return nil }

var acks = &recorder{}

func init() {
	source.Register("recorder", acks)
	register.Function1x2[source.Message, beam.EventTime, source.Message](stampMessage)
}

var t0 = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

// stampMessage timestamps a test message with the time in its Source ("src@RFC3339").
func stampMessage(m source.Message) (beam.EventTime, source.Message) {
	_, at, _ := strings.Cut(m.Source, "@")
	t, _ := time.Parse(time.RFC3339, at)
	return mtime.FromTime(t), m
}

// TestWriteArchivesByEventHourAndAcks writes messages of three hours: each lands in its hour's
// partition, the lake reads back every record, and every ack ID is acknowledged; the tail
// from an hour lists only that hour's partition and later ones, and replays them timestamped.
func TestWriteArchivesByEventHourAndAcks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lake")
	var msgs []source.Message
	var ids, lines []string
	for i, at := range []time.Duration{0, time.Minute, 40 * time.Minute, 90 * time.Minute, 25 * time.Hour} {
		when := t0.Add(at)
		data := fmt.Sprintf(`{"event_id":"e%d","type":"click","user_id":"u","url":"https://x/","ts":%q}`, i, when.Format(time.RFC3339))
		id := fmt.Sprintf("ack-%d", i)
		msgs = append(msgs, source.Message{Data: []byte(data), Source: "m@" + when.Format(time.RFC3339), AckID: id})
		ids, lines = append(ids, id), append(lines, data)
	}
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, recordRaw, Write(s, dir, "recorder://x", beam.ParDo(s, stampMessage, beam.CreateList(s, msgs))))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	acks.mu.Lock()
	got := slices.Clone(acks.acked)
	acks.mu.Unlock()
	sort.Strings(got)
	if d := cmp.Diff(ids, got); d != "" {
		t.Errorf("acknowledged (-want +got):\n%s", d)
	}
	parts, err := lake.List(context.Background(), dir, t0.Truncate(24*time.Hour), t0.Add(25*time.Hour).Truncate(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byHour := map[string]int{}
	for _, p := range parts {
		for _, f := range p.Files {
			h, ok := HourOf(f)
			if !ok || !strings.HasSuffix(f, ".jsonl.gz") {
				t.Errorf("archive file %s: not in an hour partition or not .jsonl.gz", f)
			}
			byHour[h.Format("2006-01-02T15")]++
		}
	}
	if d := cmp.Diff(map[string]int{"2026-11-20T10": 1, "2026-11-20T11": 1, "2026-11-20T12": 1, "2026-11-21T11": 1}, byHour); d != "" {
		t.Errorf("files per hour partition (-want +got):\n%s", d)
	}
	// Write emits each record under the source that reading the archive gives it.
	fs, err := filesystem.New(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, p := range parts {
		for _, f := range p.Files {
			if _, err := lake.ReadFile(context.Background(), fs, f, lake.Relative(dir, f), 0, func(r event.Raw) {
				read = append(read, r.Source+" "+string(r.Bytes))
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	emitted.mu.Lock()
	got = slices.Clone(emitted.records)
	emitted.mu.Unlock()
	if d := cmp.Diff(read, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" || len(got) != len(msgs) {
		t.Errorf("records emitted by Write (-read from the archive +emitted):\n%s", d)
	}

	tail, err := Tail(context.Background(), dir, t0.Add(time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != 3 {
		t.Errorf("tail from 11:30 lists %d files, want those of hours 11, 12 and the next day's 11: %v", len(tail), tail)
	}
	p, s = beam.NewPipelineWithRoot()
	replayed := beam.ParDo(s, rawBytes, Replay(s, dir, tail, t0.Add(time.Hour), 0))
	passert.Equals(s, replayed, toAny(lines[2:])...)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

func init() {
	register.Function1x1[event.Raw, string](rawBytes)
	register.Function1x0[event.Raw](recordRaw)
}

// emitted holds what recordRaw saw: "source bytes" of each record.
var emitted struct {
	mu      sync.Mutex
	records []string
}

func recordRaw(r event.Raw) {
	emitted.mu.Lock()
	defer emitted.mu.Unlock()
	emitted.records = append(emitted.records, r.Source+" "+string(r.Bytes))
}

func rawBytes(r event.Raw) string { return string(r.Bytes) }

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestTailOfMissingArchive(t *testing.T) {
	files, err := Tail(context.Background(), filepath.Join(t.TempDir(), "none"), t0, t0)
	if err != nil || len(files) != 0 {
		t.Errorf("Tail of a missing archive = %v, %v; want nothing", files, err)
	}
}
