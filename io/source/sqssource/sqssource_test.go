package sqssource

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/source/internal/queueurl"
	"github.com/google/go-cmp/cmp"
)

func TestParseURL(t *testing.T) {
	defaults := func(p Params) Params {
		p.Reader, p.Visibility, p.Receivers = queueurl.Defaults(), DefaultVisibility, DefaultReceivers
		return p
	}
	tests := []struct {
		url     string
		want    Params
		wantErr string
	}{
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/events",
			want: defaults(Params{Region: "us-east-1", Host: "sqs.us-east-1.amazonaws.com", Account: "123456789012", Queue: "events"})},
		{url: "sqs://sqs.us-gov-west-1.amazonaws.com/123456789012/my_queue-2.fifo?call=500ms&idle=3s&delay=2s&max=100&visibility=10s&receivers=8",
			want: Params{Region: "us-gov-west-1", Host: "sqs.us-gov-west-1.amazonaws.com", Account: "123456789012", Queue: "my_queue-2.fifo",
				Reader: queueurl.Reader{Call: 500 * time.Millisecond, Idle: 3 * time.Second, Delay: 2 * time.Second, Max: 100}, Visibility: 10 * time.Second, Receivers: 8}},
		{url: "sqs://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
			want: defaults(Params{Region: "cn-north-1", Host: "sqs.cn-north-1.amazonaws.com.cn", Account: "123456789012", Queue: "q"})},
		{url: "sqs://sqs.amazonaws.com/123456789012/q", wantErr: "is not sqs.REGION.amazonaws.com"},
		{url: "sqs://queue.us-east-1.amazonaws.com/123456789012/q", wantErr: "is not sqs.REGION.amazonaws.com"},
		{url: "sqs://sqs.us-east-1.amazonaws.com:443/123456789012/q", wantErr: "is not sqs.REGION.amazonaws.com"},
		{url: "sqs://localhost:4100/123456789012/q", wantErr: "set AWS_ENDPOINT_URL_SQS"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/", wantErr: "no 12-digit account ID"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/events", wantErr: "no 12-digit account ID"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/12345/events", wantErr: "no 12-digit account ID"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012", wantErr: "no valid queue name"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/", wantErr: "no valid queue name"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/a/b", wantErr: "no valid queue name"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/" + strings.Repeat("q", 81), wantErr: "no valid queue name"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?call=0s", wantErr: "call="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?idle=soon", wantErr: "idle="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?delay=-1s", wantErr: "delay="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?max=0", wantErr: "max="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?receivers=17", wantErr: "receivers="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?visibility=1500ms", wantErr: "whole seconds"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?visibility=2s", wantErr: "visibility="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?visibility=13h", wantErr: "visibility="},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?wait=20s", wantErr: "unknown parameter"},
		{url: "sqs://sqs.us-east-1.amazonaws.com/123456789012/q?call=1s&call=2s", wantErr: "call is given 2 times"},
		{url: "pubsub://sqs.us-east-1.amazonaws.com/123456789012/q", wantErr: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestQueueURL(t *testing.T) {
	p := Params{Host: "sqs.eu-west-1.amazonaws.com", Account: "123456789012", Queue: "events"}
	if got, want := p.QueueURL(), "https://sqs.eu-west-1.amazonaws.com/123456789012/events"; got != want {
		t.Errorf("QueueURL = %q, want %q", got, want)
	}
}
