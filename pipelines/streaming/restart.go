package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/beamline/beamline/io/archive"
	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/filter"
)

// Plan is what a run does besides reading its source: on a warm restart, which part of the
// archive it replays.
type Plan struct {
	// Watermark is the speed watermark the store had when the job started (zero: none).
	Watermark time.Time
	// ReplayFrom is the event time from which the archive is replayed and events count (zero:
	// no replay, every event counts). Older events are filtered as out_of_range.
	ReplayFrom time.Time
	// SessionsFrom keeps sessions that start before it out of the sessions view.
	SessionsFrom time.Time
	// OpenSession is the start of the earliest session that the archive says may still have
	// been open at Watermark (zero: none, or no watermark).
	OpenSession time.Time
	// Files are the archive files replayed.
	Files []string
}

// planRestart decides what a job that starts with the speed watermark wm replays, given open,
// the start of the earliest session that may still be open at wm (zero: none; see
// openSessionStart). Every window that can still change after wm is rebuilt from scratch: the
// minute windows that end after wm - allowed lateness, and the sessions hours from the earliest
// that may hold a session not yet counted (one whose last event is within a session gap, the
// lateness and 2 minutes of wm, or one still open at wm), going back one session gap further
// so that session starts are known. Dedupe removes the overlap of the replay and the queue.
func planRestart(wm, open time.Time, lateness time.Duration) Plan {
	from := sessionCutoff(wm, lateness)
	if !open.IsZero() && open.Before(from) {
		from = open
	}
	sessionsFrom := from.UTC().Truncate(time.Hour)
	return Plan{Watermark: wm, SessionsFrom: sessionsFrom, ReplayFrom: sessionsFrom.Add(-aggregate.SessionGap), OpenSession: open}
}

// sessionCutoff is the time from which a session's last event makes it possibly uncounted
// at the speed watermark wm: the speed layer counts a session once the watermark passes its
// last event + the session gap + the allowed lateness + 2 minutes (package aggregate).
func sessionCutoff(wm time.Time, lateness time.Duration) time.Time {
	return wm.Add(-aggregate.SessionGap - lateness - 2*time.Minute)
}

// planRun returns what a run of cfg's stage does besides reading its source. The stages that
// own the archive (all, and ingest when it is given the store that the aggregate stage
// writes) replay its tail when the store has a speed watermark; the aggregate stage starts
// from the store's watermark without a replay; the score stage has no plan.
func planRun(ctx context.Context, cfg Config) (Plan, error) {
	if cfg.Store == "" {
		return Plan{}, nil
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return Plan{}, err
	}
	defer st.Close()
	if !cfg.ownsArchive() {
		wm, err := st.SpeedWatermark(ctx)
		return Plan{Watermark: wm}, err
	}
	return prepare(ctx, cfg, st)
}

// prepare reads the speed watermark and lists the archive's tail for a warm restart.
func prepare(ctx context.Context, cfg Config, st *store.Store) (Plan, error) {
	wm, err := st.SpeedWatermark(ctx)
	if err != nil {
		return Plan{}, err
	}
	if !cfg.WarmRestart || submitOnly() {
		return Plan{Watermark: wm}, nil
	}
	if wm.IsZero() {
		return planWithoutWatermark(ctx, cfg)
	}
	open, hours, err := openSessionStart(ctx, cfg, wm)
	if err != nil {
		return Plan{}, err
	}
	plan := planRestart(wm, open, cfg.lateness())
	slog.Info("streaming: warm restart", "speed_watermark", wm, "oldest_open_session", open, "hours_scanned", hours,
		"sessions_from", plan.SessionsFrom)
	if plan.Files, err = archive.Tail(ctx, cfg.Archive, plan.ReplayFrom, time.Now()); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// submitOnly says whether the runner will only print or save the job (Dataflow's --dry_run or
// --template_location): nothing runs now, so there is no replay to plan (and the archive is
// not listed: a dry run needs no access to it).
func submitOnly() bool {
	set := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	return set("dry_run") == "true" || set("template_location") != ""
}

// planWithoutWatermark plans a start on a store without a speed watermark. A job killed before
// its first window closed recorded none, yet it archived (and acknowledged) records that the
// queue will not deliver again: so whatever the archive holds is replayed, from a dedupe TTL
// before its first day, and counts. A new deployment with an empty archive replays nothing.
func planWithoutWatermark(ctx context.Context, cfg Config) (Plan, error) {
	days, err := lake.Days(ctx, cfg.Archive)
	if err != nil || len(days) == 0 {
		return Plan{}, err
	}
	from := days[0].Add(-cfg.dedupeTTL())
	plan := Plan{ReplayFrom: from, SessionsFrom: from}
	if plan.Files, err = archive.Tail(ctx, cfg.Archive, from, time.Now()); err != nil {
		return Plan{}, err
	}
	return plan, nil
}

// openSessionStart returns the start of the earliest session that may still be open, or not
// yet counted, at the speed watermark wm, by what the archive holds: a session of a user with
// an event at or after sessionCutoff(wm), followed back through the user's earlier events
// while they are less than a session gap apart. Events the job's filters drop do not count;
// event times are taken to the minute, erring towards longer sessions (a replay that starts
// too early costs time, one that starts too late loses events). It reads the archive's hours
// from the newest back, in plain Go, and stops at the first hour that no such session
// reaches, or --max_session_replay before wm (a dedupe TTL by default): a session open longer
// than that is left out of the speed layer's sessions view (its start is not replayed) and to
// the nightly backfill. It returns zero when no session may be open, and how many hours it
// read.
func openSessionStart(ctx context.Context, cfg Config, wm time.Time) (time.Time, int, error) {
	limit := wm.Add(-cfg.maxSessionReplay()).Truncate(time.Hour)
	files, err := archive.Tail(ctx, cfg.Archive, limit, time.Now())
	if err != nil || len(files) == 0 {
		return time.Time{}, 0, err
	}
	byHour := map[time.Time][]string{}
	for _, f := range files {
		if h, ok := archive.HourOf(f); ok {
			byHour[h] = append(byHour[h], f)
		}
	}
	fs, err := filesystem.New(ctx, cfg.Archive)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("scan archive %s: %w", cfg.Archive, err)
	}
	defer fs.Close()
	keeps := filter.Config{Countries: cfg.Countries, BotPatterns: cfg.Bots, BlockedUsers: cfg.Blocked}.Keeps()
	scan := sessionScan{cutoff: sessionCutoff(wm, cfg.lateness()), chains: map[string]time.Time{}}
	hours := slices.SortedFunc(maps.Keys(byHour), time.Time.Compare)
	read := 0
	for i := len(hours) - 1; i >= 0 && scan.reaches(hours[i]); i-- {
		minutes := map[string]uint64{}
		for _, f := range byHour[hours[i]] {
			_, err := lake.ReadFile(ctx, fs, f, f, cfg.MaxRecordBytes, func(raw event.Raw) {
				e, err := event.ParseRecord(raw, cfg.MaxRecordBytes)
				if err == nil && keeps(e) && e.Time.UTC().Truncate(time.Hour).Equal(hours[i]) {
					minutes[e.UserID] |= 1 << e.Time.UTC().Minute()
				}
			})
			if err != nil {
				return time.Time{}, read, fmt.Errorf("scan archive file %s: %w", f, err)
			}
		}
		scan.hour(hours[i], minutes)
		read++
	}
	return scan.oldest(), read, nil
}

// sessionScan follows sessions back through the archive's hours, newest first.
type sessionScan struct {
	cutoff time.Time
	// chains holds, per user, the start (to the minute) of the earliest session found so far
	// that may still be open.
	chains map[string]time.Time
}

// hour adds the minutes of hour h in which each user had events (bit m: minute m).
func (s *sessionScan) hour(h time.Time, minutes map[string]uint64) {
	for user, bits := range minutes {
		start, chained := s.chains[user]
		for m := 59; m >= 0; m-- {
			if bits&(1<<m) == 0 {
				continue
			}
			at := h.Add(time.Duration(m) * time.Minute)
			end := at.Add(time.Minute) // events of the minute are before it
			switch {
			case end.After(s.cutoff) && (!chained || at.Before(start)):
				start, chained = at, true
			case chained && at.Before(start) && end.After(start.Add(-aggregate.SessionGap)):
				start = at
			}
		}
		if chained {
			s.chains[user] = start
		}
	}
}

// reaches says whether an event in hour h can start or extend a session that may be open.
func (s *sessionScan) reaches(h time.Time) bool {
	end := h.Add(time.Hour)
	if end.After(s.cutoff) {
		return true
	}
	oldest := s.oldest()
	return !oldest.IsZero() && end.After(oldest.Add(-aggregate.SessionGap))
}

// oldest returns the earliest session start of the chains (zero: none).
func (s *sessionScan) oldest() time.Time {
	var t time.Time
	for _, start := range s.chains {
		if t.IsZero() || start.Before(t) {
			t = start
		}
	}
	return t
}
