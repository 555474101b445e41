package spill

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn4x1[context.Context, int, beam.Y, func(int, Ref), error](&spillFn{})
	register.Emitter2[int, Ref]()
	register.Iter1[Ref]()
}

// Values writes the values of kvs, a PCollection<KV<int, T>>, to files under dir and returns
// their references, PCollection<KV<int, Ref>>: group those by key and read the values back
// with Each. Each bundle writes one file; T is encoded with its Beam coder.
func Values(s beam.Scope, dir string, kvs beam.PCollection) beam.PCollection {
	s = s.Scope("spill.Values")
	t := kvs.Type().Components()[1].Type()
	return beam.ParDo(s, &spillFn{Dir: dir, Type: beam.EncodedType{T: t}}, kvs)
}

// spillFn writes each value to the bundle's spill file and emits its reference.
type spillFn struct {
	Dir  string
	Type beam.EncodedType

	enc beam.ElementEncoder
	w   *Writer
	buf bytes.Buffer
}

func (f *spillFn) Setup() {
	f.enc = beam.NewElementEncoder(f.Type.T)
}

func (f *spillFn) StartBundle(_ context.Context, _ func(int, Ref)) {
	f.w = NewWriter(f.Dir)
}

func (f *spillFn) ProcessElement(_ context.Context, k int, v beam.Y, emit func(int, Ref)) error {
	f.buf.Reset()
	if err := f.enc.Encode(v, &f.buf); err != nil {
		return fmt.Errorf("spill: encode %v: %w", f.Type.T, err)
	}
	r, err := f.w.Put(f.buf.Bytes())
	if err != nil {
		return err
	}
	emit(k, r)
	return nil
}

func (f *spillFn) FinishBundle(_ context.Context, _ func(int, Ref)) error {
	return f.w.Close()
}

// decoders caches an element decoder per type (reflect.Type -> beam.ElementDecoder).
var decoders sync.Map

// Each reads the values that refs (the grouped output of Values) reference, in order, and
// calls fn with each; it stops at the first error.
func Each[T any](refs func(*Ref) bool, fn func(T) error) error {
	t := reflect.TypeFor[T]()
	dec, ok := decoders.Load(t)
	if !ok {
		dec, _ = decoders.LoadOrStore(t, beam.NewElementDecoder(t))
	}
	var rd Reader
	defer rd.Close()
	var r Ref
	for refs(&r) {
		b, err := rd.Read(r)
		if err != nil {
			return err
		}
		v, err := dec.(beam.ElementDecoder).Decode(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("spill: decode %v from %s at %d: %w", t, r.Path, r.Off, err)
		}
		if err := fn(v.(T)); err != nil {
			return err
		}
	}
	return nil
}
