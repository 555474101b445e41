package sqssource

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
)

// record is what the reader makes of a received message.
type record struct {
	data     []byte    // the record, on one line
	at       time.Time // its event time, or its SentTimestamp
	hasEvent bool      // at is an event time
}

// recordOf unwraps a message's body (SNS), puts it on one line and finds its event time.
// now stands in for a SentTimestamp the message lacks.
func recordOf(m types.Message, now time.Time) record {
	data := source.OneLine(unwrapSNS([]byte(aws.ToString(m.Body))))
	if e, err := event.Parse(data); err == nil {
		return record{data: data, at: e.Time, hasEvent: true}
	}
	return record{data: data, at: sentTime(m, now)}
}

// snsEnvelope is the part of an SNS notification that the reader reads: what an SNS topic
// delivers to a queue subscribed without raw message delivery.
type snsEnvelope struct {
	Type     string  `json:"Type"`
	TopicArn string  `json:"TopicArn"`
	Message  *string `json:"Message"`
}

// unwrapSNS returns the Message of an SNS notification, or body itself when it is not one.
func unwrapSNS(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"TopicArn"`)) { // cheap: events never carry one
		return body
	}
	var env snsEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Type != "Notification" || env.TopicArn == "" || env.Message == nil {
		return body
	}
	return []byte(*env.Message)
}

// sentTime returns the message's SentTimestamp (Unix ms), or now without one.
func sentTime(m types.Message, now time.Time) time.Time {
	ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
	if err != nil {
		return now
	}
	return time.UnixMilli(ms).UTC()
}
