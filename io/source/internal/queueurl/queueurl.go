// Package queueurl is what the queue source drivers (Pub/Sub, Kafka, SQS) share about their
// URLs: the reader parameters every one of them takes (call, max, idle, delay), the parsing of
// a URL's query with the same rules and messages everywhere (each parameter once, unknown ones
// refused, naming the known ones), and the source.Driver made of a driver's parser, reader and
// acker.
package queueurl

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/source"
)

// Reader are the parameters every queue reader takes.
type Reader struct {
	// Call bounds the time of one reader call (one bundle): call.
	Call time.Duration
	// Max bounds the messages of one reader call: max.
	Max int
	// Idle is how long the queue must have nothing new before the watermark moves to now: idle.
	Idle time.Duration
	// Delay is subtracted from the largest event time read to make the watermark: delay.
	Delay time.Duration
}

// Defaults of the reader parameters.
const (
	DefaultCall = time.Second
	DefaultMax  = 20000
	DefaultIdle = 10 * time.Second
)

// Defaults returns the default reader parameters.
func Defaults() Reader {
	return Reader{Call: DefaultCall, Max: DefaultMax, Idle: DefaultIdle}
}

var readerParams = []string{"call", "idle", "delay", "max"}

// set sets the reader parameter name, reporting whether it is one.
func (r *Reader) set(name, v string) (bool, error) {
	var err error
	switch name {
	case "call":
		r.Call, err = Positive(v)
	case "idle":
		r.Idle, err = Positive(v)
	case "delay":
		if r.Delay, err = time.ParseDuration(v); err == nil && r.Delay < 0 {
			err = fmt.Errorf("negative")
		}
	case "max":
		if r.Max, err = strconv.Atoi(v); err == nil && r.Max <= 0 {
			err = fmt.Errorf("not positive")
		}
	default:
		return false, nil
	}
	return true, err
}

// Own sets a driver's own parameter name to v; it is called only with a name of its list.
type Own func(name, v string) error

// Parse sets r from q's reader parameters and calls own with the driver's own ones (named in
// ownNames). It refuses a parameter given twice or that neither knows. Errors read
// "KIND source: NAME=VALUE: cause".
func Parse(kind string, q url.Values, r *Reader, ownNames []string, own Own) error {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // the first error is the same every time
	for _, name := range names {
		vs := q[name]
		if len(vs) != 1 {
			return fmt.Errorf("%s source: %s is given %d times: give it once", kind, name, len(vs))
		}
		known, err := r.set(name, vs[0])
		if !known {
			if contains(ownNames, name) {
				err = own(name, vs[0])
			} else {
				err = fmt.Errorf("unknown parameter (known: %s)", strings.Join(append(append([]string(nil), readerParams...), ownNames...), ", "))
			}
		}
		if err != nil {
			return fmt.Errorf("%s source: %s=%q: %w", kind, name, vs[0], err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Positive parses a positive duration.
func Positive(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil && d <= 0 {
		err = fmt.Errorf("not positive")
	}
	return d, err
}

// Driver returns the source.Driver of a driver's URL parser, reader and acker opener.
func Driver[P any](parse func(*url.URL) (P, error), read func(beam.Scope, P, source.AckMode) beam.PCollection,
	acker func(context.Context, P) (source.Acker, error)) source.Driver {
	return driver[P]{parse: parse, read: read, acker: acker}
}

type driver[P any] struct {
	parse func(*url.URL) (P, error)
	read  func(beam.Scope, P, source.AckMode) beam.PCollection
	acker func(context.Context, P) (source.Acker, error)
}

func (d driver[P]) Validate(u *url.URL) error {
	_, err := d.parse(u)
	return err
}

func (d driver[P]) Read(s beam.Scope, u *url.URL, opts source.Options) beam.PCollection {
	p, err := d.parse(u)
	if err != nil {
		panic(err) // source.Read validated the URL
	}
	return d.read(s, p, opts.Mode())
}

func (d driver[P]) OpenAcker(ctx context.Context, u *url.URL) (source.Acker, error) {
	p, err := d.parse(u)
	if err != nil {
		return nil, err
	}
	return d.acker(ctx, p)
}
