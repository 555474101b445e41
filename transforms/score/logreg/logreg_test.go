package logreg_test

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/beamline/beamline/transforms/score"
	"github.com/beamline/beamline/transforms/score/logreg"
)

const modelFile = "../../../testdata/model/spam.json"

// specFeatures computes the features of the package doc the plainest way, with strings.ToLower,
// strings.FieldsFunc and hash/fnv, as an independent check of the optimised featurizer.
func specFeatures(f score.Features, bits int) []uint32 {
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	tokens := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !isWord(r) })
	}
	var names []string
	text := tokens(f.Text)
	for _, t := range text {
		names = append(names, "t:"+t)
	}
	for i := 1; i < len(text); i++ {
		names = append(names, "b:"+text[i-1]+" "+text[i])
	}
	for _, r := range strings.ToLower(f.Text) {
		if !isWord(r) && !unicode.IsSpace(r) {
			names = append(names, "c:"+string(r))
		}
	}
	for _, t := range tokens(f.UserAgent) {
		names = append(names, "a:"+t)
	}
	for _, t := range tokens(f.URL) {
		names = append(names, "u:"+t)
	}
	out := make([]uint32, len(names))
	for i, n := range names {
		h := fnv.New32a()
		h.Write([]byte(n))
		out[i] = h.Sum32() % (1 << bits)
	}
	return out
}

var samples = []score.Features{
	{},
	{Text: "Love these shoes!", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", URL: "https://shop.example/p/12?ref=mail"},
	{Text: "BUY NOW cheap followers at bit.ly/3xK9!!! 🔥🔥", UserAgent: "python-requests/2.32.3"},
	{Text: "Schöne Schuhe, ÜBER gut — 10/10 ❤", URL: "https://shop.example/blog/2026/11/winter-sale"},
	{Text: "tab\tand  spaces\nnewline", UserAgent: "  "},
	{Text: "bad utf8 \xff\xfe here", UserAgent: "x\xffy"},
	{Text: "İstanbul ǅemal", UserAgent: "Ω"},
}

func TestBucketsFollowTheSpec(t *testing.T) {
	for _, bits := range []int{4, 18} {
		for _, f := range samples {
			if d := cmp.Diff(specFeatures(f, bits), logreg.Buckets(f, bits, nil), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Buckets(%+v, %d) (-spec +got):\n%s", f, bits, d)
			}
		}
	}
}

// TestScoreFollowsTheSpec checks the score against the formula, summing the weights in the
// documented order.
func TestScoreFollowsTheSpec(t *testing.T) {
	b, err := os.ReadFile(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	var file logreg.File
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	m, err := logreg.New(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range samples {
		z := file.Bias
		for _, bucket := range specFeatures(f, file.Bits) {
			z += file.Weights[strconv.Itoa(int(bucket))]
		}
		if want, got := float32(1/(1+math.Exp(-z))), m.Score(f); want != got {
			t.Errorf("Score(%+v) = %v, want %v", f, got, want)
		}
	}
}

func TestCommittedModelSeparatesSpam(t *testing.T) {
	m := openModel(t)
	spam := []score.Features{
		{Text: "BUY NOW cheap followers at bit.ly/3xK9!!!", UserAgent: "python-requests/2.32.3", URL: "https://shop.example/blog/sizing-tips?ref=aff7"},
		{Text: "you are an idiot", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0", URL: "https://shop.example/p/3"},
	}
	normal := []score.Features{
		{Text: "Love it!", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0", URL: "https://shop.example/blog/2026/11/winter-sale"},
		{Text: "Does the bag come in red?", UserAgent: "ShopApp/5.2 (Android 15; Pixel 8) okhttp/4.12.0", URL: "https://shop.example/p/9"},
	}
	scores, err := m.Predict(context.Background(), append(spam, normal...))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range scores {
		if flagged := s >= 0.5; flagged != (i < len(spam)) {
			t.Errorf("score %v for %+v", s, append(spam, normal...)[i])
		}
	}
}

func TestPredictIsScoreAndConcurrent(t *testing.T) {
	m := openModel(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				got, err := m.Predict(context.Background(), samples)
				if err != nil {
					t.Error(err)
					return
				}
				for i, f := range samples {
					if got[i] != m.Score(f) {
						t.Errorf("Predict[%d] = %v, Score = %v", i, got[i], m.Score(f))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestNewRejectsBadFiles(t *testing.T) {
	good := logreg.File{Format: logreg.Format, Bits: 4, Weights: map[string]float64{"15": 1}}
	if _, err := logreg.New(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	tests := map[string]func(*logreg.File){
		"format":         func(f *logreg.File) { f.Format = "other/v9" },
		"zero bits":      func(f *logreg.File) { f.Bits = 0 },
		"too many bits":  func(f *logreg.File) { f.Bits = logreg.MaxBits + 1 },
		"bucket too big": func(f *logreg.File) { f.Weights = map[string]float64{"16": 1} },
		"bucket not int": func(f *logreg.File) { f.Weights = map[string]float64{"x": 1} },
		"NaN weight":     func(f *logreg.File) { f.Weights = map[string]float64{"1": math.NaN()} },
		"infinite bias":  func(f *logreg.File) { f.Bias = math.Inf(1) },
	}
	for name, modify := range tests {
		f := good
		modify(&f)
		if _, err := logreg.New(f); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestOpenByURL(t *testing.T) {
	ctx := context.Background()
	abs, err := filepath.Abs(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"logreg://" + modelFile, "logreg://" + abs} {
		m, err := score.Open(ctx, u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		m.Close()
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"beamline.logreg/v1","bits":99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"logreg://" + filepath.Join(t.TempDir(), "missing.json"), "logreg://" + bad} {
		if _, err := score.Open(ctx, u); err == nil {
			t.Errorf("Open(%q): no error", u)
		}
	}
}

func openModel(t *testing.T) *logreg.Model {
	t.Helper()
	m, err := logreg.Read(context.Background(), modelFile)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzBuckets checks the optimised featurizer against the plain reading of the spec on any
// input, invalid UTF-8 included.
func FuzzBuckets(f *testing.F) {
	for _, s := range samples {
		f.Add(s.Text, s.UserAgent, s.URL)
	}
	f.Fuzz(func(t *testing.T, text, ua, url string) {
		in := score.Features{Text: text, UserAgent: ua, URL: url}
		if d := cmp.Diff(specFeatures(in, 18), logreg.Buckets(in, 18, nil), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("Buckets(%q) (-spec +got):\n%s", in, d)
		}
	})
}
