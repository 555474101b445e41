package logreg

import (
	"unicode"
	"unicode/utf8"

	"github.com/beamline/beamline/transforms/score"
)

// Feature prefixes, in the order features are produced.
const (
	prefixToken     = "t:"
	prefixBigram    = "b:"
	prefixSymbol    = "c:"
	prefixUserAgent = "a:"
	prefixURL       = "u:"
)

// FNV-1a, 32 bits.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// featurizer turns Features into hashed feature buckets (see the package doc). It keeps its
// buffers between calls and is not safe for concurrent use.
type featurizer struct {
	mask  uint32
	lower []byte
	spans [][2]int
}

func newFeaturizer(bits int) *featurizer {
	return &featurizer{mask: 1<<uint(bits) - 1}
}

// each calls yield with the bucket of every feature of f, in the documented order.
func (z *featurizer) each(f score.Features, yield func(uint32)) {
	z.tokenize(f.Text)
	for _, sp := range z.spans {
		yield(z.hash(prefixToken, z.lower[sp[0]:sp[1]], nil) & z.mask)
	}
	for i := 1; i < len(z.spans); i++ {
		a, b := z.spans[i-1], z.spans[i]
		yield(z.hash(prefixBigram, z.lower[a[0]:a[1]], z.lower[b[0]:b[1]]) & z.mask)
	}
	for i := 0; i < len(z.lower); {
		if c := z.lower[i]; c < utf8.RuneSelf {
			if asciiClass[c] == classOther {
				yield(z.hash(prefixSymbol, z.lower[i:i+1], nil) & z.mask)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(z.lower[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) {
			yield(z.hash(prefixSymbol, z.lower[i:i+n], nil) & z.mask)
		}
		i += n
	}
	z.tokenize(f.UserAgent)
	for _, sp := range z.spans {
		yield(z.hash(prefixUserAgent, z.lower[sp[0]:sp[1]], nil) & z.mask)
	}
	z.tokenize(f.URL)
	for _, sp := range z.spans {
		yield(z.hash(prefixURL, z.lower[sp[0]:sp[1]], nil) & z.mask)
	}
}

// asciiClass classifies ASCII bytes: word (letter or digit), space (unicode.IsSpace) or other.
var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for b := range c {
		switch r := rune(b); {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			c[b] = classWord
		case unicode.IsSpace(r):
			c[b] = classSpace
		}
	}
	return c
}()

// Byte classes of asciiClass.
const (
	classOther = iota
	classWord
	classSpace
)

// tokenize lower-cases s into z.lower (as strings.ToLower does, invalid UTF-8 becoming U+FFFD)
// and records the spans of its tokens, maximal runs of letters and digits. ASCII takes a fast
// path that gives the same result as the unicode package.
func (z *featurizer) tokenize(s string) {
	z.lower, z.spans = z.lower[:0], z.spans[:0]
	start := -1
	for i := 0; i < len(s); {
		var word bool
		if c := s[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			word = asciiClass[c] == classWord
			z.lower = append(z.lower, c)
			i++
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			r = unicode.ToLower(r)
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
			end := len(z.lower)
			z.lower = utf8.AppendRune(z.lower, r)
			i += n
			if word != (start >= 0) {
				if word {
					start = end
				} else {
					z.spans = append(z.spans, [2]int{start, end})
					start = -1
				}
			}
			continue
		}
		if word != (start >= 0) {
			if word {
				start = len(z.lower) - 1
			} else {
				z.spans = append(z.spans, [2]int{start, len(z.lower) - 1})
				start = -1
			}
		}
	}
	if start >= 0 {
		z.spans = append(z.spans, [2]int{start, len(z.lower)})
	}
}

// hash is FNV-1a of prefix + a, or of prefix + a + " " + b when b is not nil.
func (z *featurizer) hash(prefix string, a, b []byte) uint32 {
	h := uint32(fnvOffset)
	for i := 0; i < len(prefix); i++ {
		h = (h ^ uint32(prefix[i])) * fnvPrime
	}
	for _, c := range a {
		h = (h ^ uint32(c)) * fnvPrime
	}
	if b != nil {
		h = (h ^ ' ') * fnvPrime
		for _, c := range b {
			h = (h ^ uint32(c)) * fnvPrime
		}
	}
	return h
}

// Buckets appends to dst the feature buckets of f for a model of 2^bits weights, in the
// documented order (a bucket appears once per occurrence of its feature), and returns dst.
// Trainers use it to build the same features the model scores.
func Buckets(f score.Features, bits int, dst []uint32) []uint32 {
	newFeaturizer(bits).each(f, func(b uint32) { dst = append(dst, b) })
	return dst
}
