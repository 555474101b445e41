package aggregate

import (
	"encoding/json"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/views"
)

// Rows are few (one per key and window), so JSON is a fine coder for them.
func init() {
	beam.RegisterCoder(reflect.TypeOf((*views.Row)(nil)).Elem(), encodeRow, decodeRow)
}

func encodeRow(r views.Row) ([]byte, error) { return json.Marshal(r) }

func decodeRow(b []byte) (views.Row, error) {
	var r views.Row
	err := json.Unmarshal(b, &r)
	return r, err
}
