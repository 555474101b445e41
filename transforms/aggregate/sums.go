package aggregate

import (
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	_ "github.com/beamline/beamline/io/views/rowcoder" // the coder of the rows Views and Speed emit
	"github.com/beamline/beamline/transforms/bucket"
)

// rowID is a row key in its parts: the key of sums within a bundle, whose string form
// (views.RowKey) is built once per row when the sums are emitted, not once per event.
type rowID struct {
	view    string
	startMs int64
	key     string
}

// rowKey returns id as views.RowKey makes it.
func (id rowID) rowKey() string {
	return views.RowKey(id.view, time.UnixMilli(id.startMs), id.key)
}

// stampedAcc is a sum and the earliest event time that contributed to it.
type stampedAcc struct {
	acc      Acc
	earliest time.Time
}

// sums are contributions summed per row.
type sums map[rowID]*stampedAcc

// at returns the sum of id, created with n zero counts, and notes that t contributed to it.
func (s sums) at(id rowID, n int, t time.Time) *Acc {
	old, ok := s[id]
	if !ok {
		old = &stampedAcc{acc: Acc{Counts: make([]int64, n)}, earliest: t}
		s[id] = old
	} else if t.Before(old.earliest) {
		old.earliest = t
	}
	return &old.acc
}

// addEvent adds e's contributions to the minute views: one event to its country's and its
// category's rows, and a view and its user to its URL's row when it is a pageview.
func (s sums) addEvent(e event.Event) {
	minute := e.Time.Truncate(views.MinuteWindow).UnixMilli()
	flagged := int64(0)
	if e.Flagged {
		flagged = 1
	}
	country := s.at(rowID{views.CountryActivity, minute, e.Country}, 5, e.Time)
	country.Counts[caEvents]++
	country.Counts[caFlagged] += flagged
	switch e.Type {
	case event.TypePageview:
		country.Counts[caPageviews]++
		pv := s.at(rowID{views.PageViews, minute, e.URL}, 2, e.Time)
		pv.Counts[pvViews]++
		if i, found := slices.BinarySearch(pv.Users, e.UserID); !found {
			pv.Users = slices.Insert(pv.Users, i, e.UserID)
		}
	case event.TypeClick:
		country.Counts[caClicks]++
	case event.TypePost:
		country.Counts[caPosts]++
	}
	category := s.at(rowID{views.CategoryActivity, minute, e.Category}, 2, e.Time)
	category.Counts[catEvents]++
	category.Counts[catFlagged] += flagged
}

// add adds acc, contributed at t, to the sum of id.
func (s sums) add(id rowID, acc Acc, t time.Time) {
	old, ok := s[id]
	if !ok {
		s[id] = &stampedAcc{acc: acc, earliest: t}
		return
	}
	old.acc = merge(old.acc, acc)
	if t.Before(old.earliest) {
		old.earliest = t
	}
}

// emitByBucket emits sums as one rowSums per bucket of the row key, each at the earliest time
// of its sums.
func (s sums) emitByBucket(emit func(beam.EventTime, int, rowSums)) {
	batches := bucket.Batches[int, rowSums]{}
	earliest := map[int]time.Time{}
	for id, sum := range s {
		k := id.rowKey()
		n := bucket.Of(k, minuteBuckets)
		b := batches.Get(n)
		if e, ok := earliest[n]; !ok || sum.earliest.Before(e) {
			earliest[n] = sum.earliest
		}
		b.Keys, b.Accs = append(b.Keys, k), append(b.Accs, sum.acc)
	}
	for n, b := range batches {
		emit(mtime.FromTime(earliest[n]), n, *b)
	}
}
