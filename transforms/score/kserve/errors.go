package kserve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is a response with a status other than 200.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// Message is the response's error message (or the start of its body).
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.Code, e.Message)
}

// retryable reports whether the status is worth retrying.
func (e *StatusError) retryable() bool {
	switch e.Code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ErrBadResponse is returned (wrapped) for a response that does not hold the scores.
var ErrBadResponse = errors.New("bad inference response")

// statusError describes a failed response; it carries Retry-After for backoff.
func statusError(resp *http.Response, body []byte) error {
	var er ErrorResponse
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &er) == nil && er.Error != "" {
		msg = er.Error
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	se := &StatusError{Code: resp.StatusCode, Message: msg}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return &retryAfterError{StatusError: se, after: time.Duration(s) * time.Second}
	}
	return se
}

// retryAfterError is a StatusError whose response asked to wait before retrying.
type retryAfterError struct {
	*StatusError
	after time.Duration
}

func (e *retryAfterError) Unwrap() error { return e.StatusError }
