// Package rowcoder registers the Beam coder of views.Row, the element of every PCollection of
// view rows: the transforms that make rows (package aggregate) and the sinks that write them
// (package storeio) both import it, so a row is encoded the same way wherever it travels.
// Rows are few (one per key and window), so the format is JSON: the view schema's own field
// names, readable in a runner's UI.
package rowcoder

import (
	"encoding/json"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/views"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*views.Row)(nil)).Elem(), Encode, Decode)
}

// Encode encodes r.
func Encode(r views.Row) ([]byte, error) { return json.Marshal(r) }

// Decode decodes what Encode encoded.
func Decode(b []byte) (views.Row, error) {
	var r views.Row
	err := json.Unmarshal(b, &r)
	return r, err
}
