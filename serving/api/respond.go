package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// maxPublishRaces is how many times an answer is recomputed when batch runs are published while
// it is read, before the request fails with 503.
const maxPublishRaces = 3

// computeFunc computes an answer against st. batchRead says whether it read the batch layer.
type computeFunc func(ctx context.Context, st *state) (answer any, batchRead bool, err error)

// answer is an encoded response body and the state that it was computed against.
type answer struct {
	body []byte
	st   *state
}

// serve writes the answer of compute for the current state, from the cache when it holds one
// computed against the same publications and speed watermark, no older than the cache TTL.
// Concurrent misses of one key share one computation.
//
// An expensive query (c) computes only once admitted (see admitter); the queries that share
// its computation share its admission.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, reqKey string, c cost, compute computeFunc) error {
	st, err := s.state.get(r.Context())
	if err != nil {
		return err
	}
	key := stateKey(reqKey, st)
	if body, ok := s.cache.get(key, s.now()); ok {
		s.metrics.cache.WithLabelValues("hit").Inc()
		s.writeBody(w, body, st)
		return nil
	}
	s.metrics.cache.WithLabelValues("miss").Inc()
	// The computation may outlive the request that started it (others wait on it), but not the
	// store timeout of each of its calls.
	ctx := context.WithoutCancel(r.Context())
	v, err, _ := s.flight.Do(key, func() (any, error) {
		if c == expensive {
			release, err := s.admit.admit(r.Context())
			if err != nil {
				s.metrics.shed.Inc()
				return nil, err
			}
			defer release()
		}
		a, err := s.consistent(ctx, st, compute)
		if err != nil {
			return nil, err
		}
		s.cache.put(stateKey(reqKey, a.st), a.body, s.now())
		return a, nil
	})
	if err != nil {
		return err
	}
	a := v.(answer)
	s.writeBody(w, a.body, a.st)
	return nil
}

// consistent computes an answer that reflects one publication state: when it read the batch layer
// it reads the publications again afterwards, and if they changed (a run was published
// meanwhile, so the cutoff and the batch rows may disagree) it computes the answer again against
// the new state.
func (s *Server) consistent(ctx context.Context, st *state, compute computeFunc) (answer, error) {
	for range maxPublishRaces {
		v, batchRead, err := compute(ctx, st)
		if err != nil {
			return answer{}, err
		}
		if batchRead {
			pubs, err := s.publications(ctx)
			if err != nil {
				return answer{}, err
			}
			if hashPubs(pubs) != st.pubsHash {
				s.metrics.retries.Inc()
				wm, err := s.watermark(ctx)
				if err != nil {
					return answer{}, err
				}
				st = newState(pubs, wm, s.now())
				s.state.store(st)
				continue
			}
		}
		body, err := marshal(v)
		if err != nil {
			return answer{}, err
		}
		return answer{body, st}, nil
	}
	return answer{}, &apiError{code: http.StatusServiceUnavailable, retryAfter: 1, msg: "batch runs were published while the answer was read, several times over; retry"}
}

func stateKey(reqKey string, st *state) string {
	return reqKey + "|" + strconv.FormatUint(st.pubsHash, 36) + "|" + strconv.FormatInt(st.watermark.UnixNano(), 36)
}

// writeBody writes body, a JSON object, with the freshness of st added as its last member:
// the speed watermark and how far it lags behind now. The lag is computed per request, so cached
// bodies do not carry it.
func (s *Server) writeBody(w http.ResponseWriter, body []byte, st *state) {
	// One write of the whole response: net/http sends a large body in one system call then.
	out := make([]byte, 0, len(body)+96)
	out = append(out, body[:len(body)-1]...)
	out = append(out, `,"freshness":`...)
	out = appendFreshness(out, st.watermark, s.now())
	out = append(out, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

func appendFreshness(out []byte, wm, now time.Time) []byte {
	if wm.IsZero() {
		return append(out, `{"speed_watermark":null,"lag_seconds":null}`...)
	}
	out = append(out, `{"speed_watermark":"`...)
	out = wm.UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, `","lag_seconds":`...)
	out = strconv.AppendFloat(out, now.Sub(wm).Round(time.Millisecond).Seconds(), 'f', -1, 64)
	return append(out, '}')
}

// marshal encodes v as JSON without escaping <, > and & (keys are often URLs with queries).
func marshal(v any) ([]byte, error) {
	if a, ok := v.(jsonAppender); ok {
		return a.appendJSON(make([]byte, 0, a.sizeHint())), nil
	}
	return marshalJSON(v)
}

// marshalJSON is marshal through encoding/json.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeError writes {"error": msg} with status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
