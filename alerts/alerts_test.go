package alerts

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// cases gives each rule a synthetic history (promqltest's load syntax, one sample a minute
// from time 0) on which it must fire at firesAt and not before notBefore, and one on which it
// must stay quiet.
var cases = map[string]struct {
	fire, quiet        string
	notBefore, firesAt time.Duration
}{
	"BeamlineNoBatchPublication": {
		// The cutoff stays at time 0 while the clock runs: 30 h behind after 30 h, firing 30 m later.
		fire:      `beamline_serving_batch_cutoff_timestamp_seconds{job="serving"} 1+0x2000`,
		quiet:     `beamline_serving_batch_cutoff_timestamp_seconds{job="serving"} 0+60x2000`,
		notBefore: 30*time.Hour + 29*time.Minute, firesAt: 30*time.Hour + 31*time.Minute,
	},
	"BeamlineSpeedWatermarkLag": {
		fire:      `beamline_serving_speed_lag_seconds{job="serving"} 5x20 900x40`,
		quiet:     `beamline_serving_speed_lag_seconds{job="serving"} 5x20 900x5 5x40`,
		notBefore: 30 * time.Minute, firesAt: 32 * time.Minute,
	},
	"BeamlineDeadLetterRate": {
		fire: `beamline_read_total{job="beamline-streaming"} 0+1000x90
			beamline_deadlettered_bad_json_total{job="beamline-streaming"} 0+10x30 300+100x60`,
		quiet: `beamline_read_total{job="beamline-streaming"} 0+1000x90
			beamline_deadlettered_bad_json_total{job="beamline-streaming"} 0+10x90`,
		notBefore: 40 * time.Minute, firesAt: 60 * time.Minute,
	},
	"BeamlineStreamingJobDown": {
		fire: `up{job="beamline-streaming"} 1x10 0x30
			beamline_job_up{job="beamline-streaming"} 1x10 0x30`,
		quiet: `up{job="beamline-streaming"} 1x40
			beamline_job_up{job="beamline-streaming"} 1x40`,
		notBefore: 14 * time.Minute, firesAt: 17 * time.Minute,
	},
	"BeamlineAcksPendingGrowing": {
		fire: `beamline_read_total{job="beamline-streaming"} 0+10000x120
			beamline_acked_total{job="beamline-streaming"} 0+10000x30 300000+1000x90`,
		quiet: `beamline_read_total{job="beamline-streaming"} 0+10000x120
			beamline_acked_total{job="beamline-streaming"} 0+9990x120`,
		notBefore: 40 * time.Minute, firesAt: 80 * time.Minute,
	},
}

// TestRulesParse checks alerts.yml with Prometheus' own rule file parser (every expression is
// parsed) and that every rule has a case below.
func TestRulesParse(t *testing.T) {
	groups := parse(t)
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			n++
			if _, ok := cases[r.Alert]; !ok {
				t.Errorf("rule %s has no test case", r.Alert)
			}
			if r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %s: want a summary annotation and a severity label", r.Alert)
			}
		}
	}
	if n != len(cases) {
		t.Errorf("%d rules, %d cases", n, len(cases))
	}
}

// TestRulesFire evaluates each rule every minute over its synthetic histories as Prometheus'
// rule manager would (rules.AlertingRule, with its for: duration) and checks when it fires.
func TestRulesFire(t *testing.T) {
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 50000000)
	for _, g := range parse(t).Groups {
		for _, r := range g.Rules {
			c := cases[r.Alert]
			t.Run(r.Alert, func(t *testing.T) {
				for _, history := range []struct {
					name   string
					series string
					fire   bool
				}{{"fire", c.fire, true}, {"quiet", c.quiet, false}} {
					firing := firstFiring(t, engine, r, history.series, c.firesAt+30*time.Minute)
					switch {
					case history.fire && firing < 0:
						t.Errorf("%s: never fired", history.name)
					case history.fire && (firing < c.notBefore || firing > c.firesAt):
						t.Errorf("%s: fired at %s, want between %s and %s", history.name, firing, c.notBefore, c.firesAt)
					case !history.fire && firing >= 0:
						t.Errorf("%s: fired at %s", history.name, firing)
					}
				}
			})
		}
	}
}

func parse(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.Parse(Rules, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Fatalf("alerts.yml: %v", err)
	}
	return groups
}

// firstFiring evaluates rule r every minute from 0 to until over series and returns when it
// first fired, or -1.
func firstFiring(t *testing.T, engine promql.QueryEngine, r rulefmt.Rule, series string, until time.Duration) time.Duration {
	t.Helper()
	storage := promqltest.LoadedStorage(t, "load 1m\n"+series)
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
	if err != nil {
		t.Fatal(err)
	}
	rule := rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
		labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	query := rules.EngineQueryFunc(engine, storage)
	for at := time.Duration(0); at <= until; at += time.Minute {
		if _, err := rule.Eval(context.Background(), 0, time.Unix(0, 0).Add(at), query, nil, 0); err != nil {
			t.Fatalf("eval at %s: %v", at, err)
		}
		for _, a := range rule.ActiveAlerts() {
			if a.State == rules.StateFiring {
				return at
			}
		}
	}
	return -1
}
