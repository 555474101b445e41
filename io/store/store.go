// Package store is the portable API of view stores: where both layers write their view rows and
// where the serving API reads them.
//
// A store is opened by URL; each driver registers its scheme in its init function, as
// database/sql drivers do:
//
//	import _ "github.com/beamline/beamline/io/store/sqlitestore"
//	st, err := store.Open(ctx, "sqlite://out/views.db")
//
// Store is the portable type, as database/sql's DB is over database/sql/driver: it checks every
// argument (contexts, run IDs, days, rows, layers), refuses writes to a store opened read-only
// and wraps errors as "NAME store: OPERATION: cause", once for every driver; a Driver does only
// the backend's work. Every driver passes the conformance suite in package storetest.
//
// # Layers and runs
//
// Speed rows are upserts keyed by view, key and window start: writing a row again replaces it, so
// a re-fired pane never counts twice. Batch rows belong to a run: a run writes its rows (invisible
// to readers), then Publish maps each of its days to the run in one atomic step, replacing the run
// that served those days before. A half-written run is never served, and re-running a day replaces
// it without double counts.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/beamline/beamline/io/registry"

	"github.com/beamline/beamline/io/views"
)

// Driver is what a view store backend implements (package sqlitestore, postgresstore,
// bigquerystore); callers use Store, which checks every argument, refuses writes to a read-only
// store and wraps the driver's errors before and after calling it. A driver is called only with
// a live context, rows that pass views.Row.Validate, a non-empty run ID, days at midnight UTC,
// a known layer; it must be safe for concurrent use. The method docs say what it must do.
type Driver interface {
	// WriteBatch writes rows of the unpublished batch run run. Writing the same
	// (run, view, key, window start) again replaces the row.
	WriteBatch(ctx context.Context, run string, rows []views.Row) error
	// Publish makes run the batch run that serves each of days (midnight UTC), atomically:
	// readers see either the old runs for all days or run for all of them. Run IDs sort by
	// start time (NewRunID): a day already served by a run that started later is not taken
	// from it, and Publish fails with ErrSuperseded (an older backfill never replaces a newer).
	Publish(ctx context.Context, run string, days []time.Time) error
	// UpsertSpeed writes speed-layer rows; a row replaces one with the same view, key and window
	// start unless that one is heavier (views.Row.Weight): a served speed row never goes down,
	// not even while a restarted job rebuilds its window. Of rows of one call with the same
	// identity, the heaviest wins (the later of equal ones).
	UpsertSpeed(ctx context.Context, rows []views.Row) error
	// Query returns the rows of one layer that match q, ordered by window start, then key.
	// Batch rows come only from the run published for the day of their window start.
	Query(ctx context.Context, q Query) ([]views.Row, error)
	// Publications returns the published days and their runs, ordered by day.
	Publications(ctx context.Context) ([]Publication, error)
	// SetSpeedWatermark records how far (in event time) the speed layer has processed.
	SetSpeedWatermark(ctx context.Context, t time.Time) error
	// SpeedWatermark returns the last recorded speed watermark, or the zero time if none.
	SpeedWatermark(ctx context.Context) (time.Time, error)
	// RecordRun writes the history of a batch run, replacing what was recorded for its ID.
	RecordRun(ctx context.Context, r RunInfo) error
	// Runs returns the recorded batch runs, with the statuses recorded, in any order (Store.Runs
	// sorts them and reports the published runs that serve no day any more as replaced).
	Runs(ctx context.Context) ([]RunInfo, error)
	// Retain deletes what no query needs any more (see Retention) and reclaims the space where
	// the store can. Every answer of Query is the same before and after, for batch rows; speed
	// rows are deleted only where a published batch day covers their window.
	Retain(ctx context.Context, r Retention) (Swept, error)
	// Close releases the store's resources.
	Close() error
}

// Retention says what Store.Retain deletes. A zero time deletes nothing of its kind.
type Retention struct {
	// SpeedBefore: speed rows whose window starts before it, on a day that a batch run is
	// published for, are deleted (the merge serves those windows from the batch layer).
	SpeedBefore time.Time
	// UnpublishedBefore: the rows of runs that serve no day and started before it (by their run
	// ID, see NewRunID; other IDs are never swept) are deleted: failed, refused or replaced
	// runs.
	UnpublishedBefore time.Time
}

// RunInfo is the history of one batch run.
type RunInfo struct {
	Run  string
	Days []time.Time
	// Status is one of RunRunning, RunPublished, RunReplaced, RunRejected, RunFailed.
	Status string
	// Started and Ended bound the run; Ended is zero while it runs.
	Started, Ended time.Time
	// Report is the run's report as a JSON object (conservation counts, quality report, the
	// reason it failed or was refused); empty while it runs.
	Report string
}

// Batch run statuses.
const (
	RunRunning   = "running"
	RunPublished = "published"
	RunReplaced  = "replaced"
	RunRejected  = "rejected"
	RunFailed    = "failed"
)

// markReplaced sets the status of each published run of runs that serves none of its days in
// pubs to RunReplaced, and sorts runs newest first.
func markReplaced(runs []RunInfo, pubs []Publication) []RunInfo {
	serving := map[string]bool{}
	for _, p := range pubs {
		serving[p.Run] = true
	}
	for i := range runs {
		if runs[i].Status == RunPublished && !serving[runs[i].Run] {
			runs[i].Status = RunReplaced
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Run > runs[j].Run })
	return runs
}

// Swept is what Store.Retain deleted.
type Swept struct {
	SpeedRows, BatchRows int64
}

// RunStart returns the start time encoded in a run ID made by NewRunID, and false for other IDs.
func RunStart(run string) (time.Time, bool) {
	stamp, _, ok := strings.Cut(strings.TrimPrefix(run, "run-"), "-")
	if !ok || !strings.HasPrefix(run, "run-") {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405.000Z", stamp)
	return t, err == nil
}

// Query selects rows of one view and layer whose window starts in [From, To).
type Query struct {
	View  string
	Layer views.Layer
	// Key selects one key; empty means every key.
	Key  string
	From time.Time
	To   time.Time
}

// Publication says which batch run serves a day.
type Publication struct {
	Day         time.Time
	Run         string
	PublishedAt time.Time
}

// ErrSuperseded is returned by Publish when a day is served by a run that started after the
// one being published: of two concurrent backfills of a day, the later-started one wins.
var ErrSuperseded = errors.New("a run that started later serves the day")

// ErrUnknownScheme is returned by Open for a URL whose scheme no driver registered.
var ErrUnknownScheme = errors.New("unknown store scheme")

// Options say how a store is opened.
type Options struct {
	// ReadOnly opens an existing store for reading only: nothing is created (a store that does
	// not exist fails with ErrNotExist) and writes fail. The serving API opens its store so.
	ReadOnly bool
}

// ErrNotExist is returned by OpenReadOnly for a URL where no store exists (a mistyped path,
// database or dataset): reading it would serve empty answers.
var ErrNotExist = errors.New("no view store there")

// Opener opens a driver for a parsed URL.
type Opener func(ctx context.Context, u *url.URL, opts Options) (Driver, error)

// registration is a registered driver: its name (in errors, "NAME store: ...") and opener.
type registration struct {
	name string
	open Opener
}

var openers = registry.New[registration]("open store", ErrUnknownScheme)

// Register makes a driver named name (in errors) available under scheme. It panics if scheme is
// registered twice.
func Register(scheme, name string, open Opener) {
	openers.Register(scheme, registration{name: name, open: open})
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string { return openers.Schemes() }

// Open opens the store at rawURL with the driver registered for its scheme, creating it if
// needed. Its errors show the URL without its password.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, Options{})
}

// OpenReadOnly opens the existing store at rawURL for reading (see Options.ReadOnly).
func OpenReadOnly(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, Options{ReadOnly: true})
}

func open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	reg, u, err := openers.Lookup(rawURL)
	if err != nil {
		return nil, err
	}
	d, err := reg.open(ctx, u, opts)
	if err != nil {
		return nil, fmt.Errorf("%s store: open %s: %w", reg.name, u.Redacted(), err)
	}
	return New(reg.name, d, opts), nil
}

// NewRunID returns a new, unique batch run ID that sorts by start time.
func NewRunID(now time.Time) string {
	return fmt.Sprintf("run-%s-%06x", now.UTC().Format("20060102T150405.000Z"), rand.Uint32()&0xffffff)
}
