package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// Options configure a Server. The zero value of each field means its default.
type Options struct {
	// AuthToken, when set, is the bearer token that every endpoint but /healthz requires.
	AuthToken string
	// MaxRange is the longest [from, to) a query may ask for; default 31 days.
	MaxRange time.Duration
	// StoreTimeout bounds every store call; default 2 s.
	StoreTimeout time.Duration
	// StateRefresh is how long the publications and the speed watermark read from the store are
	// reused before they are read again; default 1 s. A negative value reads them for every
	// request (tests use it to see a Publish at once).
	StateRefresh time.Duration
	// CacheEntries bounds the response cache; default 10000. A negative value disables the cache.
	CacheEntries int
	// CacheTTL is how long a cached response is served; default 1 s. It bounds how stale an answer
	// may be when speed rows change while the speed watermark stays put.
	CacheTTL time.Duration
	// BatchIndexRows bounds the batch index, which holds the rows of published batch days in
	// memory (least recently used out) so that queries read only the speed layer from the store;
	// default DefaultBatchIndexRows (about 50 bytes a row). A day of a view with more rows is
	// read from the store per query. A negative value disables the index.
	BatchIndexRows int
	// Logger receives the server's logs; default slog.Default().
	Logger *slog.Logger
	// Now returns the current time; default time.Now. Tests set it.
	Now func() time.Time
	// MaxExpensive bounds the expensive queries that run at once (top and keys over more than
	// ExpensiveRange, one key over more than 7 times it); the others queue for QueueWait, then
	// are shed with 503 and Retry-After. Cheap queries and /healthz are never held back.
	// Default: DefaultMaxExpensive.
	MaxExpensive int
	// ExpensiveRange is the range of a query over every key of a view beyond which it is
	// expensive; default 24 h.
	ExpensiveRange time.Duration
	// QueueWait is how long an expensive query waits for a slot; default 250 ms.
	QueueWait time.Duration
}

// Defaults for Options.
const (
	DefaultMaxRange     = 31 * 24 * time.Hour
	DefaultStoreTimeout = 2 * time.Second
	DefaultStateRefresh = time.Second
	DefaultCacheEntries = 10000
	DefaultCacheTTL     = time.Second
	// DefaultBatchIndexRows is about 100 MB of index.
	DefaultBatchIndexRows = 2_000_000
	// DefaultMaxExpensive leaves most of a store's connections (8 for SQLite) to cheap queries.
	DefaultMaxExpensive   = 2
	DefaultExpensiveRange = 24 * time.Hour
	DefaultQueueWait      = 250 * time.Millisecond
)

// Server answers the serving API from a view store. It is an http.Handler and is safe for
// concurrent use.
type Server struct {
	st      *store.Store
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	metrics *metrics
	state   *stateCache
	cache   *cache
	index   *batchIndex
	flight  singleflight.Group
	admit   *admitter
	token   [sha256.Size]byte // SHA-256 of the token, so the comparison takes constant time
}

// New returns a Server that reads st. A nil opts means all defaults.
func New(st *store.Store, opts *Options) *Server {
	o := withDefaults(opts)
	s := &Server{st: st, opts: o, log: o.Logger, now: o.Now, mux: http.NewServeMux()}
	s.token = sha256.Sum256([]byte(o.AuthToken))
	s.metrics = newMetrics(s.now)
	s.state = &stateCache{srv: s, every: max(o.StateRefresh, 0)}
	s.cache = newCache(o.CacheEntries, o.CacheTTL)
	s.index = newBatchIndex(s, o.BatchIndexRows)
	s.admit = newAdmitter(o.MaxExpensive, o.QueueWait)
	for _, rt := range routes {
		s.mux.Handle(rt.pattern, s.instrument(rt.path, s.guard(rt)))
	}
	s.mux.Handle("GET /ui/", s.instrument("/ui", consoleHandler()))
	s.mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	s.mux.Handle("/", s.instrument("other", http.HandlerFunc(s.notFound)))
	return s
}

func withDefaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxRange <= 0 {
		o.MaxRange = DefaultMaxRange
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.StateRefresh == 0 {
		o.StateRefresh = DefaultStateRefresh
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = DefaultCacheEntries
	}
	if o.BatchIndexRows == 0 {
		o.BatchIndexRows = DefaultBatchIndexRows
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxExpensive <= 0 {
		o.MaxExpensive = DefaultMaxExpensive
	}
	if o.ExpensiveRange <= 0 {
		o.ExpensiveRange = DefaultExpensiveRange
	}
	if o.QueueWait <= 0 {
		o.QueueWait = DefaultQueueWait
	}
	return o
}

// ServeHTTP answers one request of the serving API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// instrument counts and times the requests of one route, and logs them at debug level.
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	latency := s.metrics.latency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		took := time.Since(start)
		latency.Observe(took.Seconds())
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"status", sw.code, "took", took, "remote", r.RemoteAddr)
		}
	})
}

// guard checks the bearer token (unless the route is open) and the query parameters of rt, then
// calls its handler.
func (s *Server) guard(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.open && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="beamline"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required: send the header Authorization: Bearer <token>")
			return
		}
		q, err := parseParams(rt, r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := rt.handle(s, w, r, q); err != nil {
			s.writeErr(w, r, err)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.AuthToken == "" {
		return true
	}
	scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1 && strings.EqualFold(scheme, "Bearer")
}

// notFound answers requests that no route matches: 405 when the path is known (the method is
// not), 404 otherwise.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	probe := r.Clone(r.Context())
	probe.Method = http.MethodGet
	if _, pattern := s.mux.Handler(probe); pattern != "/" && r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s: use GET", r.Method, r.URL.Path))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s; see /openapi.json", r.URL.Path))
}

// apiError is an error with the HTTP status that reports it, and for a 503 the seconds after
// which to retry.
type apiError struct {
	code       int
	msg        string
	retryAfter int
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// errStore marks errors of store calls.
var errStore = errors.New("store")

// writeErr reports err: its own status for an apiError, 504 for a store call that timed out,
// 502 for another store error (logged, not shown).
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		if ae.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
		}
		writeError(w, ae.code, ae.msg)
	case r.Context().Err() != nil:
		s.log.Debug("request canceled", "path", r.URL.Path, "err", err)
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("store call timed out", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("the view store did not answer within %s", s.opts.StoreTimeout))
	default:
		s.log.Error("store call failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		writeError(w, http.StatusBadGateway, "the view store failed; see the server log")
	}
}

// storeCall runs one store call under the store timeout and records it in the metrics.
func storeCall[T any](ctx context.Context, s *Server, op string, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StoreTimeout)
	defer cancel()
	start := time.Now()
	v, err := call(ctx)
	s.metrics.observeStore(op, start, err, errors.Is(ctx.Err(), context.DeadlineExceeded))
	if err != nil {
		return v, fmt.Errorf("%w %s: %w", errStore, op, err)
	}
	return v, nil
}

func (s *Server) publications(ctx context.Context) ([]store.Publication, error) {
	return storeCall(ctx, s, "publications", s.st.Publications)
}

func (s *Server) watermark(ctx context.Context) (time.Time, error) {
	return storeCall(ctx, s, "speed_watermark", s.st.SpeedWatermark)
}

func (s *Server) query(ctx context.Context, q store.Query) ([]views.Row, error) {
	return storeCall(ctx, s, "query_"+string(q.Layer), func(ctx context.Context) ([]views.Row, error) {
		return s.st.Query(ctx, q)
	})
}
