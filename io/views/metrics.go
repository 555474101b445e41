package views

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// EncodeMetrics returns the JSON object of m ({"name":value,...}, names sorted), the form in
// which the stores keep a row's metrics.
func EncodeMetrics(m map[string]int64) ([]byte, error) {
	return json.Marshal(m)
}

// DecodeMetrics parses a JSON object of integer metrics. The form EncodeMetrics writes (no
// spaces, names without escapes) is parsed directly, a few times faster than encoding/json,
// which reads any other JSON object: the stores decode a row's metrics on every query.
func DecodeMetrics[T string | []byte](data T) (map[string]int64, error) {
	if m, ok := decodeCompact(data); ok {
		return m, nil
	}
	var m map[string]int64
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return nil, fmt.Errorf("decode metrics %.64q: %w", data, err)
	}
	return m, nil
}

// decodeCompact parses a JSON object of integers whose names are ASCII without escapes, such as
// {"a":1,"b":-2} or PostgreSQL's {"a": 1, "b": -2}; ok is false for anything else (the caller
// then uses encoding/json).
func decodeCompact[T string | []byte](b T) (map[string]int64, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	m := make(map[string]int64, 5)
	if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return m, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 || b[j] >= 0x80 {
				return nil, false
			}
			j++
		}
		if j >= len(b) {
			return nil, false
		}
		name := string(b[i+1 : j])
		if j = skipSpace(b, j+1); j >= len(b) || b[j] != ':' {
			return nil, false
		}
		start := skipSpace(b, j+1)
		k := start
		if k < len(b) && b[k] == '-' {
			k++
		}
		digits := k
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k == digits || b[digits] == '0' && k > digits+1 { // no digits, or a leading zero
			return nil, false
		}
		v, err := strconv.ParseInt(string(b[start:k]), 10, 64)
		if err != nil {
			return nil, false
		}
		if _, dup := m[name]; dup {
			return nil, false
		}
		m[name] = v
		if k = skipSpace(b, k); k >= len(b) {
			return nil, false
		}
		switch b[k] {
		case ',':
			i = skipSpace(b, k+1)
		case '}':
			return m, skipSpace(b, k+1) == len(b)
		default:
			return nil, false
		}
	}
}

// skipSpace returns the index of the first byte of b at or after i that is not JSON whitespace.
func skipSpace[T string | []byte](b T, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
