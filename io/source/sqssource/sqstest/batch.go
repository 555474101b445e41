package sqstest

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// receivedMessage is a message of goaws's ReceiveMessage answer.
type receivedMessage struct {
	MessageID     string                         `xml:"MessageId"`
	ReceiptHandle string                         `xml:"ReceiptHandle"`
	MD5OfBody     string                         `xml:"MD5OfBody"`
	Body          string                         `xml:"Body"`
	Attrs         []struct{ Name, Value string } `xml:"Attribute"`
}

func (a *adapter) receiveMessage(ctx context.Context, in request) (any, *apiError) {
	form := url.Values{"QueueUrl": {in.QueueUrl}, "MaxNumberOfMessages": {strconv.Itoa(max(in.MaxNumberOfMessages, 1))},
		"WaitTimeSeconds": {strconv.Itoa(in.WaitTimeSeconds)}}
	var out struct {
		Messages []receivedMessage `xml:"ReceiveMessageResult>Message"`
	}
	if err := a.call(ctx, "ReceiveMessage", form, &out); err != nil {
		return nil, err
	}
	msgs := make([]map[string]any, 0, len(out.Messages))
	for _, m := range out.Messages {
		if in.VisibilityTimeout != nil {
			vis := url.Values{"QueueUrl": {in.QueueUrl}, "ReceiptHandle": {m.ReceiptHandle}, "VisibilityTimeout": {strconv.Itoa(*in.VisibilityTimeout)}}
			if err := a.call(context.WithoutCancel(ctx), "ChangeMessageVisibility", vis, nil); err != nil {
				return nil, err
			}
		}
		msgs = append(msgs, map[string]any{"MessageId": m.MessageID, "ReceiptHandle": m.ReceiptHandle, "MD5OfBody": m.MD5OfBody,
			"Body": m.Body, "Attributes": pick(a.attributes(m), append(in.MessageSystemAttributeNames, in.AttributeNames...))})
	}
	return map[string]any{"Messages": msgs}, nil
}

// attributes returns the system attributes of m, with its SentTimestamp, and counts its
// delivery.
func (a *adapter) attributes(m receivedMessage) map[string]string {
	attrs := map[string]string{}
	for _, at := range m.Attrs {
		attrs[at.Name] = at.Value
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.sent[m.MessageID]; ok {
		attrs["SentTimestamp"] = strconv.FormatInt(t, 10)
	}
	a.deliveries[m.MessageID]++
	return attrs
}

// checkBatch refuses a batch as SQS does.
func checkBatch(entries []entry) *apiError {
	if len(entries) == 0 {
		return &apiError{typ: "EmptyBatchRequest", code: "AWS.SimpleQueueService.EmptyBatchRequest", msg: "the batch request contains no entries"}
	}
	if len(entries) > 10 {
		return &apiError{typ: "TooManyEntriesInBatchRequest", code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", msg: "at most 10 entries per request"}
	}
	ids := map[string]bool{}
	for _, e := range entries {
		if ids[e.Id] {
			return &apiError{typ: "BatchEntryIdsNotDistinct", code: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", msg: "entry " + e.Id + " twice"}
		}
		ids[e.Id] = true
	}
	return nil
}

type batchOut struct {
	Successful []map[string]string
	Failed     []failedEntry
}

func (a *adapter) sendMessageBatch(ctx context.Context, in request) (any, *apiError) {
	if err := checkBatch(in.Entries); err != nil {
		return nil, err
	}
	res := batchOut{Successful: []map[string]string{}, Failed: []failedEntry{}}
	form := url.Values{"QueueUrl": {in.QueueUrl}}
	n := 0
	for _, e := range in.Entries {
		if e.MessageBody == nil || !sendable(*e.MessageBody) {
			res.Failed = append(res.Failed, failedEntry{Id: e.Id, Code: "InvalidMessageContents", Message: badContents, SenderFault: true})
			continue
		}
		n++
		form.Set(fmt.Sprintf("SendMessageBatchRequestEntry.%d.Id", n), e.Id)
		form.Set(fmt.Sprintf("SendMessageBatchRequestEntry.%d.MessageBody", n), *e.MessageBody)
	}
	if n == 0 {
		return res, nil
	}
	var out struct {
		Entries []struct{ Id, MessageId, MD5OfMessageBody string } `xml:"SendMessageBatchResult>SendMessageBatchResultEntry"`
	}
	now := time.Now()
	if err := a.call(ctx, "SendMessageBatch", form, &out); err != nil {
		return nil, err
	}
	for _, e := range out.Entries {
		a.sentAt(now, e.MessageId)
		res.Successful = append(res.Successful, map[string]string{"Id": e.Id, "MessageId": e.MessageId, "MD5OfMessageBody": e.MD5OfMessageBody})
	}
	return res, nil
}

func (a *adapter) deleteMessageBatch(ctx context.Context, in request) (any, *apiError) {
	if err := checkBatch(in.Entries); err != nil {
		return nil, err
	}
	form := url.Values{"QueueUrl": {in.QueueUrl}}
	for i, e := range in.Entries {
		form.Set(fmt.Sprintf("DeleteMessageBatchRequestEntry.%d.Id", i+1), e.Id)
		form.Set(fmt.Sprintf("DeleteMessageBatchRequestEntry.%d.ReceiptHandle", i+1), e.ReceiptHandle)
	}
	var out struct {
		Deleted []struct{ Id string } `xml:"DeleteMessageBatchResult>DeleteMessageBatchResultEntry"`
	}
	if err := a.call(ctx, "DeleteMessageBatch", form, &out); err != nil {
		return nil, err
	}
	res := batchOut{Successful: []map[string]string{}, Failed: []failedEntry{}}
	deleted := map[string]bool{}
	for _, d := range out.Deleted {
		deleted[d.Id] = true
		res.Successful = append(res.Successful, map[string]string{"Id": d.Id})
	}
	for _, e := range in.Entries {
		if !deleted[e.Id] {
			res.Failed = append(res.Failed, failedEntry{Id: e.Id, Code: "ReceiptHandleIsInvalid", SenderFault: true,
				Message: "no message in flight has this receipt handle"})
		}
	}
	return res, nil
}

func (a *adapter) changeMessageVisibilityBatch(ctx context.Context, in request) (any, *apiError) {
	if err := checkBatch(in.Entries); err != nil {
		return nil, err
	}
	res := batchOut{Successful: []map[string]string{}, Failed: []failedEntry{}}
	for _, e := range in.Entries {
		form := url.Values{"QueueUrl": {in.QueueUrl}, "ReceiptHandle": {e.ReceiptHandle}, "VisibilityTimeout": {strconv.Itoa(e.VisibilityTimeout)}}
		if err := a.call(ctx, "ChangeMessageVisibility", form, nil); err != nil {
			if err.typ == "QueueDoesNotExist" {
				return nil, err
			}
			res.Failed = append(res.Failed, failedEntry{Id: e.Id, Code: err.typ, Message: err.msg, SenderFault: true})
			continue
		}
		res.Successful = append(res.Successful, map[string]string{"Id": e.Id})
	}
	return res, nil
}
