package sqssource

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestUnwrapSNS(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"notification", `{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":"{\"event_id\":\"e1\"}","Timestamp":"2026-11-20T10:00:00Z"}`, `{"event_id":"e1"}`},
		{"empty message", `{"Type":"Notification","TopicArn":"arn:t","Message":""}`, ``},
		{"event", `{"event_id":"e1","type":"click"}`, `{"event_id":"e1","type":"click"}`},
		{"subscription confirmation", `{"Type":"SubscriptionConfirmation","TopicArn":"arn:t","Message":"confirm"}`, `{"Type":"SubscriptionConfirmation","TopicArn":"arn:t","Message":"confirm"}`},
		{"no topic", `{"Type":"Notification","TopicArn":"","Message":"m"}`, `{"Type":"Notification","TopicArn":"","Message":"m"}`},
		{"no message", `{"Type":"Notification","TopicArn":"arn:t"}`, `{"Type":"Notification","TopicArn":"arn:t"}`},
		{"message not a string", `{"Type":"Notification","TopicArn":"arn:t","Message":{"a":1}}`, `{"Type":"Notification","TopicArn":"arn:t","Message":{"a":1}}`},
		{"garbage naming TopicArn", `"TopicArn" {`, `"TopicArn" {`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(unwrapSNS([]byte(tt.body))); got != tt.want {
				t.Errorf("unwrapSNS = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRecordOf: an event at its ts, on one line; garbage at its SentTimestamp, or at now
// without one.
func TestRecordOf(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sent := map[string]string{"SentTimestamp": "1763632800123"}
	tests := []struct {
		name string
		msg  types.Message
		want record
	}{
		{"event", types.Message{Body: aws.String("{\"event_id\":\"e1\",\"type\":\"click\",\"user_id\":\"u\",\"url\":\"https://x/\",\n\"ts\":\"2026-11-20T10:00:00Z\"}"), Attributes: sent},
			record{data: []byte(`{"event_id":"e1","type":"click","user_id":"u","url":"https://x/", "ts":"2026-11-20T10:00:00Z"}`), at: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), hasEvent: true}},
		{"garbage", types.Message{Body: aws.String("x\r\ny"), Attributes: sent}, record{data: []byte("x  y"), at: time.UnixMilli(1763632800123).UTC()}},
		{"garbage without SentTimestamp", types.Message{Body: aws.String("x")}, record{data: []byte("x"), at: now}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recordOf(tt.msg, now)
			if string(got.data) != string(tt.want.data) || !got.at.Equal(tt.want.at) || got.hasEvent != tt.want.hasEvent {
				t.Errorf("recordOf = {%q %s %v}, want {%q %s %v}", got.data, got.at, got.hasEvent, tt.want.data, tt.want.at, tt.want.hasEvent)
			}
		})
	}
}
