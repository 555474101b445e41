// Package livemetrics serves a running job's Beam counters as Prometheus metrics: it polls the
// job service the job was submitted to (Prism's, or Flink's job server) for the job's metrics
// and exposes each counter of the "beamline" namespace, summed over the transforms that count
// it, as beamline_<name>_total, with beamline_job_up (1 while the job service answers for a
// running job) and beamline_job_metrics_age_seconds.
//
// Beam reports a counter once a bundle that incremented it has finished, so a scrape shows the
// job's progress up to its last finished bundles; the job's own report at the end has the
// final figures. Runners without a job service (Dataflow) show their metrics in their own UI.
package livemetrics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// sumInt64 is the URN of Beam's user counters.
const sumInt64 = "beam:metric:user:sum_int64:v1"

// Namespace is the Beam metrics namespace that is exported.
const Namespace = "beamline"

// Server serves the counters of one job.
type Server struct {
	endpoint, job string
	every         time.Duration
	gauges        []Gauge

	mu       sync.Mutex
	counters map[string]int64
	values   map[string]float64 // of gauges, by name
	up       bool
	polled   time.Time
}

// Gauge is a metric that the job computes besides its counters: read at each poll, with the
// counters just read (a gauge derived from them), and left out while ok is false.
type Gauge struct {
	// Name is the full metric name; Help its description.
	Name, Help string
	Value      func(ctx context.Context, counters map[string]int64) (v float64, ok bool)
}

// Derived gauges that every job serves.
var derived = []Gauge{{
	Name: "beamline_acks_pending",
	Help: "Records read but not yet acknowledged to the source (sources with acknowledgements): they wait for their archive file to close.",
	Value: func(_ context.Context, c map[string]int64) (float64, bool) {
		acked, ok := c["acked"]
		return float64(c["read"] - acked), ok
	},
}}

// Start serves the metrics of the job called job, submitted to the job service at endpoint, on
// addr (host:port) at /metrics, polling every every, until ctx is done: the job's counters and
// gauges (with the derived ones). It returns the address it listens on.
func Start(ctx context.Context, addr, endpoint, job string, every time.Duration, gauges ...Gauge) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--metrics_addr %s: %w", addr, err)
	}
	s := &Server{endpoint: endpoint, job: job, every: every, counters: map[string]int64{}, gauges: append(gauges, derived...)}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go s.poll(ctx)
	return l.Addr().String(), nil
}

// poll reads the job's metrics every s.every until ctx is done.
func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		counters, up, err := s.read(ctx)
		if err != nil && ctx.Err() == nil {
			slog.Debug("live metrics: poll", "job", s.job, "err", err)
		}
		values := map[string]float64{}
		for _, g := range s.gauges {
			if v, ok := g.Value(ctx, counters); ok {
				values[g.Name] = v
			}
		}
		s.mu.Lock()
		s.up = up
		if err == nil {
			s.counters, s.polled = counters, time.Now()
		}
		s.values = values
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// read returns the job's counters and whether the job is running.
func (s *Server) read(ctx context.Context) (map[string]int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(s.endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, false, err
	}
	defer cc.Close()
	client := jobpb.NewJobServiceClient(cc)
	jobs, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, false, err
	}
	for _, j := range jobs.GetJobInfo() {
		if j.GetJobName() != s.job || j.GetState() != jobpb.JobState_RUNNING {
			continue
		}
		resp, err := client.GetJobMetrics(ctx, &jobpb.GetJobMetricsRequest{JobId: j.GetJobId()})
		if err != nil {
			return nil, true, err
		}
		counters, err := Counters(resp.GetMetrics().GetCommitted())
		return counters, true, err
	}
	return nil, false, errors.New("the job is not running")
}

// Counters sums the Namespace counters of infos by name.
func Counters(infos []*pipepb.MonitoringInfo) (map[string]int64, error) {
	out := map[string]int64{}
	for _, mi := range infos {
		labels := mi.GetLabels()
		if mi.GetUrn() != sumInt64 || labels["NAMESPACE"] != Namespace {
			continue
		}
		// Beam's VarInt coder: the int64's bits as an unsigned varint (no zigzag).
		u, n := binary.Uvarint(mi.GetPayload())
		if n <= 0 {
			return nil, fmt.Errorf("counter %s: bad payload", labels["NAME"])
		}
		out[labels["NAME"]] += int64(u)
	}
	return out, nil
}

var metricName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// Describe sends no descriptions: the counters are known only once the job reports them.
func (s *Server) Describe(chan<- *prometheus.Desc) {}

// Collect sends the last polled counters.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := 0.0
	if s.up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("beamline_job_up", "1 while the job service answers for the running job.", nil, nil), prometheus.GaugeValue, up)
	if !s.polled.IsZero() {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("beamline_job_metrics_age_seconds", "Seconds since the counters were last read from the job service.", nil, nil),
			prometheus.GaugeValue, time.Since(s.polled).Seconds())
	}
	for _, g := range s.gauges {
		if v, ok := s.values[g.Name]; ok {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.Name, g.Help, nil, nil), prometheus.GaugeValue, v)
		}
	}
	for name, v := range s.counters {
		desc := prometheus.NewDesc("beamline_"+metricName.ReplaceAllString(name, "_")+"_total", "The job's Beam counter "+Namespace+"/"+name+".", nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v))
	}
}
