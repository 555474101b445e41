package reference

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/beamline/beamline/io/generator"
)

// decodeSlowly is fields.decode written with encoding/json's tokenizer: the plain statement of
// what the fast walk must do.
func decodeSlowly(raw []byte) (fields, bool) {
	var f fields
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return f, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return f, false
		}
		dst := f.field([]byte(tok.(string)))
		if dst == nil {
			continue
		}
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return f, false
		}
		*dst = ""
		if s != nil {
			*dst = *s
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return f, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, false
	}
	return f, true
}

func checkDecode(t *testing.T, raw []byte) {
	t.Helper()
	var got fields
	ok := got.decode(raw)
	want, wantOK := decodeSlowly(raw)
	if ok != wantOK || (ok && got != want) {
		t.Errorf("decode(%q) = %+v, %v; want %+v, %v", raw, got, ok, want, wantOK)
	}
}

// TestDecode compares the fast walk with decodeSlowly on generated lines and random mutations
// of them.
func TestDecode(t *testing.T) {
	g := generator.New(generator.Config{Seed: 9, Start: time.Unix(0, 0), BadFraction: 0.3})
	rng := rand.New(rand.NewPCG(9, 9))
	const special = "{}[]\",:\\ \t\r\nu0123456789.eE+-truefalsenull\xff\xc3\xa9"
	for range 20000 {
		raw := g.Next().Raw
		checkDecode(t, raw)
		for range 3 {
			m := bytes.Clone(raw)
			switch k := rng.IntN(3); {
			case len(m) == 0 || k == 0:
				i := rng.IntN(len(m) + 1)
				m = append(m[:i], append([]byte{special[rng.IntN(len(special))]}, m[i:]...)...)
			case k == 1:
				m[rng.IntN(len(m))] = special[rng.IntN(len(special))]
			default:
				i := rng.IntN(len(m))
				m = append(m[:i], m[i+1:]...)
			}
			checkDecode(t, m)
		}
	}
}

// FuzzDecode compares the fast walk with decodeSlowly.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"type":"click"}`, `{"a":[1,{"b":"}"}],"ts":null}`, ` null `, `{"x":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkDecode(t, raw) })
}
