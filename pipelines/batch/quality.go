package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// Defaults of the quality gates.
const (
	// DefaultMaxDeadLetterRate refuses a run whose records are more than a quarter dead letters.
	DefaultMaxDeadLetterRate = 0.25
	// DefaultMinVolumeRatio refuses a run whose days hold under half the events of the median
	// published day before them.
	DefaultMinVolumeRatio = 0.5
	// trailingDays is how many published days before a run its volume is compared with.
	trailingDays = 7
)

// Quality is a run's quality report: the figures its gates check, and the checks it failed.
type Quality struct {
	// DeadLetterRate is the fraction of the records read that were dead-lettered.
	DeadLetterRate float64
	// Volume is the run's processed events per day; TrailingMedian the median of the events of
	// the published days before the run (up to seven; 0 when none is published).
	Volume, TrailingMedian int64
	// TrailingDays is how many published days the median is over.
	TrailingDays int
	// Failed names each failed check with its figures; empty when the run may be published.
	Failed []string
}

// checkQuality computes the quality report of rep and checks it against cfg's gates.
func (c Config) checkQuality(ctx context.Context, st *store.Store, rep Report) (Quality, error) {
	q := Quality{Volume: rep.Processed / int64(len(c.days()))}
	if rep.Read > 0 {
		q.DeadLetterRate = float64(sum(rep.DeadLettered)) / float64(rep.Read)
	}
	if maxRate := orDefault(c.MaxDeadLetterRate, DefaultMaxDeadLetterRate); q.DeadLetterRate > maxRate {
		q.Failed = append(q.Failed, fmt.Sprintf("dead-letter rate %.1f%% (%d of %d records) is over --max_deadletter_rate=%v",
			100*q.DeadLetterRate, sum(rep.DeadLettered), rep.Read, maxRate))
	}
	if maxLost := orDefault(c.MaxCorruptFraction, DefaultMaxCorruptFraction); float64(rep.CorruptBytes) > maxLost*float64(rep.LakeBytes) {
		q.Failed = append(q.Failed, fmt.Sprintf("%d corrupt files hold %d of the days' %d bytes (%.2f%%), over --max_corrupt_fraction=%v (the files are in the dead letters, reason corrupt_file)",
			rep.CorruptFiles, rep.CorruptBytes, rep.LakeBytes, 100*float64(rep.CorruptBytes)/float64(max(rep.LakeBytes, 1)), maxLost))
	}
	volumes, err := c.trailingVolumes(ctx, st)
	if err != nil {
		return q, err
	}
	if q.TrailingDays = len(volumes); len(volumes) > 0 {
		slices.Sort(volumes)
		q.TrailingMedian = volumes[len(volumes)/2]
		minRatio := orDefault(c.MinVolumeRatio, DefaultMinVolumeRatio)
		if float64(q.Volume) < minRatio*float64(q.TrailingMedian) {
			q.Failed = append(q.Failed, fmt.Sprintf("volume %d events a day is %.2fx the median %d of the %d published days before, under --min_volume_ratio=%v",
				q.Volume, float64(q.Volume)/float64(q.TrailingMedian), q.TrailingMedian, len(volumes), minRatio))
		}
	}
	return q, nil
}

// trailingVolumes returns the events (country_activity) of each published day among the seven
// before the run's first day.
func (c Config) trailingVolumes(ctx context.Context, st *store.Store) ([]int64, error) {
	pubs, err := st.Publications(ctx)
	if err != nil {
		return nil, fmt.Errorf("backfill: quality: read publications: %w", err)
	}
	var out []int64
	for _, p := range pubs {
		if !p.Day.Before(c.From) || p.Day.Before(c.From.AddDate(0, 0, -trailingDays)) {
			continue
		}
		rows, err := st.Query(ctx, store.Query{View: views.CountryActivity, Layer: views.Batch, From: p.Day, To: p.Day.Add(24 * time.Hour)})
		if err != nil {
			return nil, fmt.Errorf("backfill: quality: read day %s: %w", day(p.Day), err)
		}
		var n int64
		for _, r := range rows {
			n += r.Metrics[views.MetricEvents]
		}
		out = append(out, n)
	}
	return out, nil
}

// gate returns an error when q failed a check, unless cfg forces the publication (logged).
func (c Config) gate(run string, q Quality) error {
	if len(q.Failed) == 0 {
		return nil
	}
	if c.ForcePublish != "" {
		slog.Warn("backfill: publishing despite failed quality checks (--force_publish)", "run", run, "reason", c.ForcePublish, "failed", strings.Join(q.Failed, "; "))
		return nil
	}
	return fmt.Errorf("backfill run %s: not published, quality checks failed: %s (the run's rows are written; the days keep their previous runs; --force_publish=REASON publishes anyway)",
		run, strings.Join(q.Failed, "; "))
}

// String is the report's line, as Report.Print writes it.
func (q Quality) String() string {
	s := fmt.Sprintf("quality: dead-letter rate %.2f%%, volume %d events a day", 100*q.DeadLetterRate, q.Volume)
	if q.TrailingDays > 0 {
		s += fmt.Sprintf(" (%.2fx the median of the %d published days before)", float64(q.Volume)/float64(max(q.TrailingMedian, 1)), q.TrailingDays)
	}
	if len(q.Failed) > 0 {
		return s + "; FAILED: " + strings.Join(q.Failed, "; ")
	}
	return s + "; passed"
}
