package api

import (
	"strconv"
	"unicode/utf8"
)

// jsonAppender is a response that writes its own JSON, the same bytes as encoding/json (with
// HTML escaping off) would, without reflection: the rows answer is the hot path of the API.
type jsonAppender interface {
	appendJSON(b []byte) []byte
	// sizeHint is about the length of the JSON, so that it is written into one allocation.
	sizeHint() int
}

func (r rowsResponse) sizeHint() int { return 512 + 160*len(r.Rows) }

func (r rowsResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"view":`...)
	b = appendString(b, r.View)
	b = append(b, `,"key":`...)
	b = appendString(b, r.Key)
	b = append(b, `,"from":`...)
	b = appendString(b, r.From)
	b = append(b, `,"to":`...)
	b = appendString(b, r.To)
	b = append(b, `,"granularity":`...)
	b = appendString(b, r.Granularity)
	b = append(b, `,"batch_cutoff":`...)
	if r.BatchCutoff == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *r.BatchCutoff)
	}
	b = append(b, `,"layers":`...)
	b = appendArray(b, r.Layers, func(b []byte, l layerSpan) []byte {
		b = append(b, `{"layer":`...)
		b = appendString(b, string(l.Layer))
		b = append(b, `,"from":`...)
		b = appendString(b, l.From)
		b = append(b, `,"to":`...)
		b = appendString(b, l.To)
		return append(b, '}')
	})
	b = append(b, `,"rows":`...)
	b = appendArray(b, r.Rows, func(b []byte, row rowJSON) []byte {
		b = append(b, `{"window_start":`...)
		b = appendString(b, row.WindowStart)
		b = append(b, `,"window_end":`...)
		b = appendString(b, row.WindowEnd)
		b = append(b, `,"layer":`...)
		b = appendString(b, string(row.Layer))
		b = append(b, `,"metrics":`...)
		b = appendMetrics(b, row.Metrics)
		return append(b, '}')
	})
	b = append(b, `,"totals":`...)
	b = appendMetrics(b, r.Totals)
	if len(r.OmittedMetrics) > 0 {
		b = append(b, `,"omitted_metrics":`...)
		b = appendArray(b, r.OmittedMetrics, appendString)
	}
	if r.Note != "" {
		b = append(b, `,"note":`...)
		b = appendString(b, r.Note)
	}
	return append(b, '}')
}

// appendArray appends the JSON array of xs (null for a nil slice, as encoding/json does).
func appendArray[T any](b []byte, xs []T, elem func([]byte, T) []byte) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, x)
	}
	return append(b, ']')
}

// appendMetrics appends m as a JSON object with its names sorted (null for a nil map). A row has
// a handful of metrics: each next name is found by a scan, which allocates nothing.
func appendMetrics(b []byte, m map[string]int64) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	last, first := "", true
	for range len(m) {
		next, found := "", false
		for k := range m {
			if (first || k > last) && (!found || k < next) {
				next, found = k, true
			}
		}
		if !first {
			b = append(b, ',')
		}
		b = appendString(b, next)
		b = append(b, ':')
		b = strconv.AppendInt(b, m[next], 10)
		last, first = next, false
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Printable ASCII without quotes or backslashes is
// written as it is; anything else goes through encoding/json, so that escapes are always its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return appendStringSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStringSlow(b []byte, s string) []byte {
	out, err := marshalJSON(s)
	if err != nil { // a string always encodes
		panic(err)
	}
	return append(b, out...)
}
