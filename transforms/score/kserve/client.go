// Package kserve is the remote model driver of package score: it scores batches on a model
// server that speaks the KServe v2 / Open Inference Protocol over HTTP (KServe, Triton,
// Seldon MLServer, TorchServe, OpenVINO Model Server), and serves any score.Model the same way
// (Handler), for tests and local demos.
//
// # Usage
//
//	import _ "github.com/beamline/beamline/transforms/score/kserve"
//
//	score.Config{Model: "kserve+http://models:8080/v2/models/spam?timeout=2s&rps=50"}
//	score.Config{Model: "kserve://models:8080/v2/models/spam/versions/3"} // http
//
// # Protocol
//
// Each Predict is one POST {model URL}/infer with three BYTES inputs of shape [N], one element
// per event: "text", "user_agent" and "url". The response's FP32 output (the one named by the
// output option, else the one named "score", else the only one) must hold N scores, flat or
// of shape [N, 1]. Errors are JSON {"error": "..."} with a 4xx or 5xx status.
//
// # Failures
//
// Each attempt has its own timeout. Network errors, timeouts and the statuses 408, 429, 500,
// 502, 503 and 504 are retried with exponential backoff and full jitter (a random wait up to
// backoff x 2^retry, capped by max_backoff; a Retry-After header lengthens it, within the cap);
// other statuses and malformed responses are not. A client-side token bucket limits the
// requests per second of the process (every DoFn instance of a worker shares one client; see
// score.Load), retries included. After the last attempt Predict returns the error and
// score's DoFn dead-letters the batch.
//
// # Options
//
// Query parameters of the model URL, removed before the request: timeout (per attempt,
// default 10s), attempts (default 4), backoff (default 100ms), max_backoff (default 5s), rps
// (requests per second, default 0: unlimited), burst (default 1), output (output tensor name).
//
// Metrics (namespace "beamline", when called from a DoFn): counters "score_remote_requests"
// and "score_remote_retries".
package kserve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"golang.org/x/time/rate"

	"github.com/beamline/beamline/transforms/score"
)

func init() {
	score.Register("kserve", func(ctx context.Context, location string) (score.Model, error) {
		if !strings.Contains(location, "://") {
			location = "http://" + location
		}
		opts, u, err := ParseOptions(location)
		if err != nil {
			return nil, err
		}
		return New(u, opts)
	})
}

// Client is a model on a KServe v2 server; it implements score.Model and is safe for
// concurrent use.
type Client struct {
	infer   string
	opts    Options
	limiter *rate.Limiter

	requests, retries beam.Counter
}

var _ score.Model = (*Client)(nil)

// New returns a client of the model at modelURL, http(s)://HOST[:PORT]/v2/models/NAME
// [/versions/VERSION]. It does not contact the server.
func New(modelURL string, opts Options) (*Client, error) {
	u, err := url.Parse(modelURL)
	if err != nil {
		return nil, fmt.Errorf("kserve: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.Contains(u.Path, "/v2/models/") {
		return nil, fmt.Errorf("kserve: model URL %q: want http(s)://HOST/v2/models/NAME[/versions/VERSION]", modelURL)
	}
	opts = opts.withDefaults()
	limit := rate.Inf
	if opts.RPS > 0 {
		limit = rate.Limit(opts.RPS)
	}
	return &Client{
		infer:    strings.TrimSuffix(modelURL, "/") + "/infer",
		opts:     opts,
		limiter:  rate.NewLimiter(limit, opts.Burst),
		requests: beam.NewCounter("beamline", "score_remote_requests"),
		retries:  beam.NewCounter("beamline", "score_remote_retries"),
	}, nil
}

// Predict scores batch with one inference request, retried as the package doc says.
func (c *Client) Predict(ctx context.Context, batch []score.Features) ([]float32, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	body, err := c.request(batch)
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; attempt < c.opts.Attempts; attempt++ {
		if attempt > 0 {
			c.retries.Inc(ctx, 1)
			if err := sleep(ctx, c.backoff(attempt, last)); err != nil {
				return nil, fmt.Errorf("kserve: infer %s: %w (after %v)", c.infer, err, last)
			}
		}
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("kserve: infer %s: rate limit: %w", c.infer, err)
		}
		c.requests.Inc(ctx, 1)
		scores, err := c.post(ctx, body, len(batch))
		if err == nil {
			return scores, nil
		}
		last = err
		var se *StatusError
		if ctx.Err() != nil || errors.Is(err, ErrBadResponse) || (errors.As(err, &se) && !se.retryable()) {
			break
		}
	}
	return nil, fmt.Errorf("kserve: infer %s: %w", c.infer, last)
}

// request encodes the inference request of batch.
func (c *Client) request(batch []score.Features) ([]byte, error) {
	text, ua, u := make([]string, len(batch)), make([]string, len(batch)), make([]string, len(batch))
	for i, f := range batch {
		text[i], ua[i], u[i] = f.Text, f.UserAgent, f.URL
	}
	req := InferRequest{Inputs: make([]Tensor, 0, 3)}
	for _, in := range []struct {
		name string
		data []string
	}{{InputText, text}, {InputUserAgent, ua}, {InputURL, u}} {
		t, err := bytesTensor(in.name, in.data)
		if err != nil {
			return nil, fmt.Errorf("kserve: encode %s: %w", in.name, err)
		}
		req.Inputs = append(req.Inputs, t)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("kserve: encode request: %w", err)
	}
	return b, nil
}

// post makes one attempt.
func (c *Client) post(ctx context.Context, body []byte, n int) ([]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.infer, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, b)
	}
	return c.scores(b, n)
}

// scores reads the n scores of a response body.
func (c *Client) scores(body []byte, n int) ([]float32, error) {
	var resp InferResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	out, err := c.output(resp.Outputs)
	if err != nil {
		return nil, err
	}
	scores, err := out.Float32s()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if len(scores) != n {
		return nil, fmt.Errorf("%w: %d scores for %d events", ErrBadResponse, len(scores), n)
	}
	return scores, nil
}

// output picks the output tensor to read.
func (c *Client) output(outs []Tensor) (Tensor, error) {
	want := c.opts.Output
	if want == "" && len(outs) == 1 {
		return outs[0], nil
	}
	if want == "" {
		want = OutputScore
	}
	for _, o := range outs {
		if o.Name == want {
			return o, nil
		}
	}
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.Name
	}
	return Tensor{}, fmt.Errorf("%w: no output %q among %q", ErrBadResponse, want, names)
}

// backoff returns the wait before retry number attempt (1 for the first retry): full jitter
// up to Backoff x 2^(attempt-1), at least what the last response asked for, capped by
// MaxBackoff.
func (c *Client) backoff(attempt int, last error) time.Duration {
	ceiling := c.opts.Backoff << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > c.opts.MaxBackoff {
		ceiling = c.opts.MaxBackoff
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	var ra *retryAfterError
	if errors.As(last, &ra) && ra.after > d {
		d = ra.after
	}
	return min(d, c.opts.MaxBackoff)
}

// sleep waits d or until ctx is done; tests replace it to see the waits without waiting.
var sleep = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.opts.HTTPClient.CloseIdleConnections()
	return nil
}
