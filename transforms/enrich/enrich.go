// Package enrich joins events with reference data: the category of an event's URL, from a table
// of URL prefixes given as a side input (in streaming, a side input that refreshes).
//
// The category is that of the longest prefix the URL starts with; events without a URL or
// without a match get Unknown.
package enrich

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

// Unknown is the category of events that match no prefix.
const Unknown = "unknown"

// Prefix maps a URL prefix to a category: one row of the reference CSV.
type Prefix struct {
	Prefix   string
	Category string
}

func init() {
	register.DoFn3x0[event.Event, func(*Prefix) bool, func(event.Event)](&categoryFn{})
	register.DoFn2x0[event.Event, func(event.Event)](&fixedFn{})
	register.Emitter1[event.Event]()
	register.Iter1[Prefix]()
	beam.RegisterType(reflect.TypeOf((*Prefix)(nil)).Elem())
}

// Table finds the category of the longest matching prefix.
type Table struct {
	lengths []int                     // distinct prefix lengths, longest first
	byLen   map[int]map[string]string // length -> prefix -> category
}

// NewTable builds a table; a prefix given twice keeps its last category.
func NewTable(prefixes []Prefix) *Table {
	t := &Table{byLen: map[int]map[string]string{}}
	for _, p := range prefixes {
		m, ok := t.byLen[len(p.Prefix)]
		if !ok {
			m = map[string]string{}
			t.byLen[len(p.Prefix)] = m
			t.lengths = append(t.lengths, len(p.Prefix))
		}
		m[p.Prefix] = p.Category
	}
	sort.Sort(sort.Reverse(sort.IntSlice(t.lengths)))
	return t
}

// Category returns the category of url.
func (t *Table) Category(url string) string {
	if url == "" {
		return Unknown
	}
	for _, n := range t.lengths {
		if n > len(url) {
			continue
		}
		if c, ok := t.byLen[n][url[:n]]; ok {
			return c
		}
	}
	return Unknown
}

// categoryFn sets Event.Category; the table is rebuilt from the side input once per bundle, so
// a refreshed side input takes effect at the next bundle.
type categoryFn struct {
	table *Table
}

func (f *categoryFn) StartBundle(prefixes func(*Prefix) bool, _ func(event.Event)) {
	var all []Prefix
	var p Prefix
	for prefixes(&p) {
		all = append(all, p)
	}
	f.table = NewTable(all)
}

func (f *categoryFn) ProcessElement(e event.Event, _ func(*Prefix) bool, emit func(event.Event)) {
	e.Category = f.table.Category(e.URL)
	emit(e)
}

// Categories sets the category of each event from prefixes, a PCollection<Prefix> used as a
// side input that may change (a streaming job refreshes it). It takes and returns a
// PCollection<event.Event>. The streaming job's form; the batch job uses Fixed.
func Categories(s beam.Scope, prefixes, events beam.PCollection) beam.PCollection {
	s = s.Scope("enrich.Categories")
	return beam.ParDo(s, &categoryFn{}, events, beam.SideInput{Input: prefixes})
}

// Fixed sets the category of each event from prefixes, a table that does not change during the
// run, carried in the DoFn rather than as a side input: the batch job's form. It takes and
// returns a PCollection<event.Event>, with the same rule as Categories (Table). On Prism the
// side input cost the batch job 28% of its CPU (docs/design-notes.md "The batch job on one
// machine"), and a bounded run reads the table once anyway.
func Fixed(s beam.Scope, prefixes []Prefix, events beam.PCollection) beam.PCollection {
	s = s.Scope("enrich.Fixed")
	return beam.ParDo(s, &fixedFn{Prefixes: prefixes}, events)
}

// fixedFn sets Event.Category from the table of Prefixes.
type fixedFn struct {
	Prefixes []Prefix

	table *Table
}

func (f *fixedFn) Setup() {
	f.table = NewTable(f.Prefixes)
}

func (f *fixedFn) ProcessElement(e event.Event, emit func(event.Event)) {
	e.Category = f.table.Category(e.URL)
	emit(e)
}

// ReadCSV reads a reference table with the header "url_prefix,category" from any path the Beam
// filesystem can open (local, gs://, s3://).
func ReadCSV(ctx context.Context, path string) ([]Prefix, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read reference %s: %w", path, err)
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read reference %s: %w", path, err)
	}
	defer r.Close()
	return parseCSV(r, path)
}

func parseCSV(r io.Reader, path string) ([]Prefix, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read reference %s: header: %w", path, err)
	}
	if strings.TrimSpace(header[0]) != "url_prefix" || strings.TrimSpace(header[1]) != "category" {
		return nil, fmt.Errorf("read reference %s: header is %q, want \"url_prefix,category\"", path, strings.Join(header, ","))
	}
	var out []Prefix
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read reference %s: %w", path, err)
		}
		if rec[0] == "" || rec[1] == "" {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("read reference %s: line %d: empty prefix or category", path, line)
		}
		out = append(out, Prefix{Prefix: rec[0], Category: rec[1]})
	}
}
