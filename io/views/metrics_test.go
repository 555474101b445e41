package views

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeMetrics(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"views":3,"visitors":-2}`, `{"a":9223372036854775807}`, `{"a":-9223372036854775808}`,
		`{ "a" : 1 }`, `{"views": 3, "visitors": 2}`, " {\"a\":1}\n", `{"a\"b":1}`, `{"a":1,"a":2}`, `{"é":1}`,
	} {
		var want map[string]int64
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("bad case %s: %v", in, err)
		}
		got, err := DecodeMetrics([]byte(in))
		if err != nil {
			t.Errorf("DecodeMetrics(%s): %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DecodeMetrics(%s) (-encoding/json +got):\n%s", in, diff)
		}
	}
	for _, in := range []string{``, `{`, `{"a":}`, `{"a":1,}`, `{"a":1.5}`, `{"a":99999999999999999999}`, `[1]`, `{"a":1}x`, `null`} {
		if m, err := DecodeMetrics([]byte(in)); err == nil && in != `null` {
			t.Errorf("DecodeMetrics(%q) = %v, want an error", in, m)
		}
	}
}

// FuzzDecodeMetrics checks that the direct parser agrees with encoding/json wherever it accepts.
func FuzzDecodeMetrics(f *testing.F) {
	for _, s := range []string{`{}`, `{"views":3,"visitors":2}`, `{"a":-1}`, `{"a":1,"b":2,"c":3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeCompact(b)
		if !ok {
			if _, err := DecodeMetrics(b); err != nil && json.Valid(b) && (len(b) == 0 || b[0] == '{') {
				var m map[string]int64
				if json.Unmarshal(b, &m) == nil {
					t.Fatalf("DecodeMetrics(%q) failed where encoding/json decodes it: %v", b, err)
				}
			}
			return
		}
		var want map[string]int64
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("decodeCompact accepted %q, encoding/json: %v", b, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q (-encoding/json +decodeCompact):\n%s", b, diff)
		}
	})
}
