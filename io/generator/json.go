package generator

// value is a JSON value: a string, or a literal that is already encoded.
type value struct {
	s       string
	literal bool // s is encoded JSON, not a string to encode
}

// str returns the JSON string s.
func str(s string) value { return value{s: s} }

// lit returns the JSON value encoded as s.
func lit(s string) value { return value{s: s, literal: true} }

// null is the JSON literal null.
var null = lit("null")

// field is one member of a JSON object.
type field struct {
	name  string
	value value
}

// fields is a JSON object that keeps its members in order, so that lines read naturally.
type fields struct {
	list []field
}

// set sets the member called name to v, appending it when new.
func (f *fields) set(name string, v value) {
	for i := range f.list {
		if f.list[i].name == name {
			f.list[i].value = v
			return
		}
	}
	f.list = append(f.list, field{name, v})
}

// del removes the member called name.
func (f *fields) del(name string) {
	for i := range f.list {
		if f.list[i].name == name {
			f.list = append(f.list[:i], f.list[i+1:]...)
			return
		}
	}
}

// appendJSON appends the object as one line of JSON to b.
func (f *fields) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, m := range f.list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.name)
		b = append(b, ':')
		if m.value.literal {
			b = append(b, m.value.s...)
		} else {
			b = appendString(b, m.value.s)
		}
	}
	return append(b, '}')
}

// appendString appends s, valid UTF-8, to b as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
