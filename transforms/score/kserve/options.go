package kserve

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Options configure a Client. Zero values mean the defaults.
type Options struct {
	// Timeout bounds each attempt; default 10s.
	Timeout time.Duration
	// Attempts is the most requests per Predict; default 4.
	Attempts int
	// Backoff is the longest wait before the first retry; it doubles for each retry. Default 100ms.
	Backoff time.Duration
	// MaxBackoff caps a wait; default 5s.
	MaxBackoff time.Duration
	// RPS limits the requests per second of the client, retries included; 0 is unlimited.
	RPS float64
	// Burst is the token bucket's size; default 1.
	Burst int
	// Output names the output tensor to read; default "score", or the only output.
	Output string
	// HTTPClient makes the requests; default a client with default transport.
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	return o
}

// ParseOptions reads the options from the query of modelURL (see the package doc) and returns
// them with the URL without its query.
func ParseOptions(modelURL string) (Options, string, error) {
	u, err := url.Parse(modelURL)
	if err != nil {
		return Options{}, "", fmt.Errorf("kserve: %w", err)
	}
	var o Options
	q := u.Query()
	var errs []error
	durations := map[string]*time.Duration{"timeout": &o.Timeout, "backoff": &o.Backoff, "max_backoff": &o.MaxBackoff}
	for k, vs := range q {
		v := vs[len(vs)-1]
		var err error
		switch {
		case durations[k] != nil:
			*durations[k], err = time.ParseDuration(v)
		case k == "attempts":
			o.Attempts, err = strconv.Atoi(v)
		case k == "burst":
			o.Burst, err = strconv.Atoi(v)
		case k == "rps":
			o.RPS, err = strconv.ParseFloat(v, 64)
		case k == "output":
			o.Output = v
		default:
			err = errors.New("unknown option")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("kserve: model URL option %s=%q: %w", k, v, err))
		}
	}
	u.RawQuery = ""
	return o, u.String(), errors.Join(errs...)
}
