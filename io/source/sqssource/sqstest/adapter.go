package sqstest

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// adapter serves the AWS JSON 1.0 protocol that aws-sdk-go-v2's SQS client speaks by
// calling goaws, which speaks only the older query protocol, and makes goaws behave as SQS
// where the driver relies on it:
//   - ChangeMessageVisibilityBatch, which goaws lacks, is one ChangeMessageVisibility per entry;
//   - ReceiveMessage's VisibilityTimeout, which goaws ignores, is set on what it returns;
//   - SentTimestamp is the send time (goaws reports the receive time);
//   - DeleteMessageBatch reports the entries it did not delete as failed (goaws omits them);
//   - ApproximateNumberOfMessages counts the visible messages only (goaws counts all);
//   - a body SQS refuses (empty, or with characters outside SQS's set) is refused.
//
// It also counts deliveries per message, for Stats.
type adapter struct {
	goaws   http.Handler
	latency atomic.Int64 // added to every request, ns

	mu         sync.Mutex
	sent       map[string]int64 // message ID -> send time, Unix ms
	deliveries map[string]int   // message ID -> times received
}

// queuesMu serializes goaws's queue map: goaws creates and deletes queues under its lock but
// reads the map without it, and every server of the process shares the map.
var queuesMu sync.RWMutex

func newAdapter(goaws http.Handler) *adapter {
	return &adapter{goaws: goaws, sent: map[string]int64{}, deliveries: map[string]int{}}
}

func (a *adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Duration(a.latency.Load()))
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok {
		queuesMu.RLock()
		defer queuesMu.RUnlock()
		a.goaws.ServeHTTP(w, r) // a query-protocol client
		return
	}
	var in request
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, "InvalidParameterValue", "AWS.SimpleQueueService.InvalidParameterValue", err.Error())
		return
	}
	if op == "CreateQueue" || op == "DeleteQueue" {
		queuesMu.Lock()
		defer queuesMu.Unlock()
	} else {
		queuesMu.RLock()
		defer queuesMu.RUnlock()
	}
	h, ok := a.ops()[op]
	if !ok {
		writeError(w, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "sqstest does not serve "+op)
		return
	}
	out, err := h(r.Context(), in)
	if err != nil {
		writeError(w, err.typ, err.code, err.msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

// request is the union of the members of the requests the adapter serves.
type request struct {
	QueueName                   string
	QueueUrl                    string
	Attributes                  map[string]string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageBody                 *string
	MaxNumberOfMessages         int
	WaitTimeSeconds             int
	VisibilityTimeout           *int
	ReceiptHandle               string
	Entries                     []entry
}

type entry struct {
	Id                string
	MessageBody       *string
	ReceiptHandle     string
	VisibilityTimeout int
}

type failedEntry struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

// apiError is an error response: the JSON protocol's type and the query protocol's code.
type apiError struct{ typ, code, msg string }

func writeError(w http.ResponseWriter, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", code+";Sender")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + typ, "message": msg})
}

type handler func(context.Context, request) (any, *apiError)

func (a *adapter) ops() map[string]handler {
	return map[string]handler{
		"CreateQueue":                  a.createQueue,
		"DeleteQueue":                  a.simple("DeleteQueue"),
		"GetQueueUrl":                  a.getQueueURL,
		"GetQueueAttributes":           a.getQueueAttributes,
		"SendMessage":                  a.sendMessage,
		"SendMessageBatch":             a.sendMessageBatch,
		"ReceiveMessage":               a.receiveMessage,
		"DeleteMessage":                a.simple("DeleteMessage"),
		"DeleteMessageBatch":           a.deleteMessageBatch,
		"ChangeMessageVisibility":      a.simple("ChangeMessageVisibility"),
		"ChangeMessageVisibilityBatch": a.changeMessageVisibilityBatch,
		"PurgeQueue":                   a.simple("PurgeQueue"),
	}
}

// call calls goaws's action with form and decodes its XML answer into out (if not nil).
func (a *adapter) call(ctx context.Context, action string, form url.Values, out any) *apiError {
	form.Set("Action", action)
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.goaws.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		var e struct {
			Type    string `xml:"Error>Type"`
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		xml.Unmarshal(rec.Body.Bytes(), &e)
		return &apiError{typ: errorType(e.Code, e.Type), code: e.Code, msg: fmt.Sprintf("goaws %s: %d %s %s", action, rec.Code, e.Code, e.Message)}
	}
	if out == nil || rec.Body.Len() == 0 {
		return nil
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), out); err != nil {
		return &apiError{typ: "InternalError", code: "InternalError", msg: fmt.Sprintf("goaws %s: %v", action, err)}
	}
	return nil
}

// errorType is the JSON protocol's error type of a goaws error.
func errorType(code, typ string) string {
	switch code {
	case "AWS.SimpleQueueService.NonExistentQueue":
		return "QueueDoesNotExist"
	case "AWS.SimpleQueueService.MessageNotInFlight":
		return "MessageNotInflight"
	case "AWS.SimpleQueueService.QueueExists":
		return "QueueNameExists"
	}
	if t, ok := strings.CutPrefix(code, "AWS.SimpleQueueService."); ok {
		return t
	}
	return strings.ReplaceAll(typ, " ", "")
}

// simple forwards a request whose answer is empty.
func (a *adapter) simple(action string) handler {
	return func(ctx context.Context, in request) (any, *apiError) {
		form := url.Values{"QueueUrl": {in.QueueUrl}, "ReceiptHandle": {in.ReceiptHandle}}
		if in.VisibilityTimeout != nil {
			form.Set("VisibilityTimeout", strconv.Itoa(*in.VisibilityTimeout))
		}
		return struct{}{}, a.call(ctx, action, form, nil)
	}
}

func (a *adapter) createQueue(ctx context.Context, in request) (any, *apiError) {
	form := url.Values{"QueueName": {in.QueueName}}
	i := 1
	for k, v := range in.Attributes {
		form.Set(fmt.Sprintf("Attribute.%d.Name", i), k)
		form.Set(fmt.Sprintf("Attribute.%d.Value", i), v)
		i++
	}
	var out struct {
		QueueURL string `xml:"CreateQueueResult>QueueUrl"`
	}
	return map[string]string{"QueueUrl": out.QueueURL}, a.call(ctx, "CreateQueue", form, &out)
}

func (a *adapter) getQueueURL(ctx context.Context, in request) (any, *apiError) {
	var out struct {
		QueueURL string `xml:"GetQueueUrlResult>QueueUrl"`
	}
	err := a.call(ctx, "GetQueueUrl", url.Values{"QueueName": {in.QueueName}}, &out)
	return map[string]string{"QueueUrl": out.QueueURL}, err
}

func (a *adapter) getQueueAttributes(ctx context.Context, in request) (any, *apiError) {
	var out struct {
		Attrs []struct{ Name, Value string } `xml:"GetQueueAttributesResult>Attribute"`
	}
	if err := a.call(ctx, "GetQueueAttributes", url.Values{"QueueUrl": {in.QueueUrl}}, &out); err != nil {
		return nil, err
	}
	all := map[string]string{}
	for _, at := range out.Attrs {
		all[at.Name] = at.Value
	}
	total, _ := strconv.Atoi(all["ApproximateNumberOfMessages"])
	hidden, _ := strconv.Atoi(all["ApproximateNumberOfMessagesNotVisible"])
	all["ApproximateNumberOfMessages"] = strconv.Itoa(total - hidden)
	return map[string]any{"Attributes": pick(all, in.AttributeNames)}, nil
}

// pick returns the attributes of attrs named in names ("All" for every one).
func pick(attrs map[string]string, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return attrs
		}
		if v, ok := attrs[n]; ok {
			out[n] = v
		}
	}
	return out
}

// sendable reports whether SQS accepts body: at least one character, all of them in
// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func sendable(body string) bool {
	if body == "" || !utf8.ValidString(body) {
		return false
	}
	for _, r := range body {
		if !(r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
	}
	return true
}

const badContents = "Invalid characters found, or the message is empty (SQS bodies are 1 or more characters of #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF)"

func (a *adapter) sendMessage(ctx context.Context, in request) (any, *apiError) {
	if in.MessageBody == nil || !sendable(*in.MessageBody) {
		return nil, &apiError{typ: "InvalidMessageContents", code: "InvalidMessageContents", msg: badContents}
	}
	var out struct {
		MD5       string `xml:"SendMessageResult>MD5OfMessageBody"`
		MessageID string `xml:"SendMessageResult>MessageId"`
	}
	now := time.Now()
	if err := a.call(ctx, "SendMessage", url.Values{"QueueUrl": {in.QueueUrl}, "MessageBody": {*in.MessageBody}}, &out); err != nil {
		return nil, err
	}
	a.sentAt(now, out.MessageID)
	return map[string]string{"MessageId": out.MessageID, "MD5OfMessageBody": out.MD5}, nil
}

// sentAt records that the messages of ids were sent at t.
func (a *adapter) sentAt(t time.Time, ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		a.sent[id] = t.UnixMilli()
	}
}
