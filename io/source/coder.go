package source

import (
	"encoding/binary"
	"errors"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*Message)(nil)).Elem(), encodeMessage, decodeMessage)
}

// encodeMessage is a compact length-prefixed encoding: every message read crosses the
// runner at least once, and a generic coder costs several times more.
func encodeMessage(m Message) []byte {
	b := make([]byte, 0, len(m.Data)+len(m.Source)+len(m.AckID)+12)
	for _, f := range [][]byte{m.Data, []byte(m.Source), []byte(m.AckID)} {
		b = append(binary.AppendUvarint(b, uint64(len(f))), f...)
	}
	return b
}

var errCorrupt = errors.New("source: corrupt message encoding")

func decodeMessage(b []byte) (Message, error) {
	var fields [3][]byte
	for i := range fields {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Message{}, errCorrupt
		}
		fields[i], b = append([]byte(nil), b[k:k+int(n)]...), b[k+int(n):]
	}
	return Message{Data: fields[0], Source: string(fields[1]), AckID: string(fields[2])}, nil
}
