package api

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, in a registry of its own so that several
// servers (tests) can live in one process.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	storeOps  *prometheus.CounterVec
	storeTime *prometheus.HistogramVec
	cache     *prometheus.CounterVec
	retries   prometheus.Counter
	shed      prometheus.Counter
	// batchIndex counts lookups of the batch index by result (hit, load, too_big);
	// batchIndexRows is the rows it holds.
	batchIndex        *prometheus.CounterVec
	batchIndexRows    prometheus.Gauge
	batchIndexLoading prometheus.Gauge
	cutoff            atomic.Int64 // Unix seconds, 0 when nothing is published
	watermark         atomic.Int64 // Unix milliseconds, 0 when none
}

func newMetrics(now func() time.Time) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "beamline_serving_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "beamline_serving_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		storeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "beamline_serving_store_calls_total", Help: "View-store calls by operation and result (ok, error, timeout).",
		}, []string{"op", "result"}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "beamline_serving_store_call_duration_seconds", Help: "View-store call latency by operation.",
			Buckets: prometheus.ExponentialBuckets(.0001, 2.5, 12),
		}, []string{"op"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "beamline_serving_cache_lookups_total", Help: "Response-cache lookups by result (hit, miss).",
		}, []string{"result"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "beamline_serving_publish_races_total", Help: "Answers recomputed because a batch run was published while they were read.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "beamline_serving_shed_total", Help: "Expensive queries shed with 503 because too many ran at once.",
		}),
		batchIndex: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "beamline_serving_batch_index_lookups_total", Help: "Batch-index lookups of a published day by result (hit; load: a load started; miss: loading, failed recently or too many loads at once; too_big).",
		}, []string{"result"}),
		batchIndexRows: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "beamline_serving_batch_index_rows", Help: "Batch rows held in the batch index.",
		}),
		batchIndexLoading: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "beamline_serving_batch_index_loading", Help: "Days of a view being read into the batch index.",
		}),
	}
	m.cache.WithLabelValues("hit")
	m.cache.WithLabelValues("miss")
	cutoff := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "beamline_serving_batch_cutoff_timestamp_seconds", Help: "The batch cutoff (Unix seconds); 0 when no batch day is published.",
	}, func() float64 { return float64(m.cutoff.Load()) })
	wm := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "beamline_serving_speed_watermark_timestamp_seconds", Help: "The speed-layer watermark (Unix seconds); 0 when none is recorded.",
	}, func() float64 { return float64(m.watermark.Load()) / 1e3 })
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "beamline_serving_speed_lag_seconds", Help: "Now minus the speed-layer watermark, as last read from the store; 0 when none is recorded.",
	}, func() float64 {
		if wm := m.watermark.Load(); wm != 0 {
			return now().Sub(time.UnixMilli(wm)).Seconds()
		}
		return 0
	})
	m.reg.MustRegister(m.requests, m.latency, m.storeOps, m.storeTime, m.cache, m.retries, m.shed, m.batchIndex, m.batchIndexRows, m.batchIndexLoading, cutoff, wm, lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observeState(st *state) {
	if st.published {
		m.cutoff.Store(st.cutoff.Unix())
	} else {
		m.cutoff.Store(0)
	}
	if st.watermark.IsZero() {
		m.watermark.Store(0)
	} else {
		m.watermark.Store(st.watermark.UnixMilli())
	}
}

func (m *metrics) observeStore(op string, start time.Time, err error, timedOut bool) {
	result := "ok"
	switch {
	case timedOut:
		result = "timeout"
	case err != nil:
		result = "error"
	}
	m.storeOps.WithLabelValues(op, result).Inc()
	m.storeTime.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
