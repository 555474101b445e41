package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The parts of an OpenAPI 3 document that the tests check.
type (
	openAPIDoc struct {
		OpenAPI    string                          `json:"openapi"`
		Paths      map[string]map[string]operation `json:"paths"`
		Components struct {
			Parameters map[string]parameter `json:"parameters"`
			Schemas    map[string]schema    `json:"schemas"`
		} `json:"components"`
	}
	operation struct {
		Parameters []parameter         `json:"parameters"`
		Security   *[]any              `json:"security"`
		Responses  map[string]response `json:"responses"`
	}
	parameter struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	response struct {
		Content map[string]struct {
			Schema schema `json:"schema"`
		} `json:"content"`
	}
	schema struct {
		Ref        string            `json:"$ref"`
		Required   []string          `json:"required"`
		Properties map[string]schema `json:"properties"`
	}
)

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(openAPI))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: version %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

// params returns the names of the parameters of op that are in "in", resolving references.
func (d openAPIDoc) params(t *testing.T, op operation, in string) []string {
	var out []string
	for _, p := range op.Parameters {
		if p.Ref != "" {
			var ok bool
			if p, ok = d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]; !ok {
				t.Errorf("openapi.json: dangling reference %s", p.Ref)
				continue
			}
		}
		if p.In == in {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPIMatchesRoutes checks that the document lists exactly the routes the server
// registers, with exactly the parameters their handlers accept, and the right security.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	srv := newTestServer(t, openStore(t), nil)
	var docPaths, routePaths []string
	for p := range doc.Paths {
		docPaths = append(docPaths, p)
	}
	for _, rt := range routes {
		routePaths = append(routePaths, rt.path)
	}
	slices.Sort(docPaths)
	slices.Sort(routePaths)
	if diff := cmp.Diff(routePaths, docPaths); diff != "" {
		t.Fatalf("paths (-routes +openapi.json):\n%s", diff)
	}
	for _, rt := range routes {
		t.Run(rt.path, func(t *testing.T) {
			item := doc.Paths[rt.path]
			if len(item) != 1 {
				t.Errorf("openapi.json lists %d operations, want only get", len(item))
			}
			op, ok := item["get"]
			if !ok {
				t.Fatalf("openapi.json has no get operation")
			}
			wantQuery := slices.Sorted(slices.Values(rt.params))
			if diff := cmp.Diff(wantQuery, doc.params(t, op, "query")); diff != "" {
				t.Errorf("query parameters (-handler +openapi.json):\n%s", diff)
			}
			var wantPath []string
			for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
				wantPath = append(wantPath, m[1])
			}
			if diff := cmp.Diff(wantPath, doc.params(t, op, "path")); diff != "" {
				t.Errorf("path parameters (-pattern +openapi.json):\n%s", diff)
			}
			if open := op.Security != nil && len(*op.Security) == 0; open != rt.open {
				t.Errorf("openapi.json says open=%v, route says open=%v", open, rt.open)
			}
			// The route is really registered: the mux routes a request for it to its pattern.
			req := httptest.NewRequest(http.MethodGet, pathParam.ReplaceAllString(rt.path, "page_views"), nil)
			if _, pattern := srv.mux.Handler(req); pattern != rt.pattern {
				t.Errorf("mux routes GET %s to %q, want %q", req.URL.Path, pattern, rt.pattern)
			}
		})
	}
}

// TestOpenAPISchemasMatchResponses checks that the documented response members are exactly the
// JSON members of the Go response types (plus freshness, which every view answer carries).
func TestOpenAPISchemasMatchResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, typ := range map[string]reflect.Type{
		"RowsResponse":    reflect.TypeFor[rowsResponse](),
		"TopResponse":     reflect.TypeFor[topResponse](),
		"KeysResponse":    reflect.TypeFor[keysResponse](),
		"StatusResponse":  reflect.TypeFor[statusResponse](),
		"Row":             reflect.TypeFor[rowJSON](),
		"LayerSpan":       reflect.TypeFor[layerSpan](),
		"RunList":         reflect.TypeFor[runList](),
		"CatalogResponse": reflect.TypeFor[catalogResponse](),
		"CatalogView":     reflect.TypeFor[catalogView](),
		"Run":             reflect.TypeFor[batchRunJSON](),
	} {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("openapi.json has no schema %s", name)
			continue
		}
		want := jsonMembers(typ)
		if strings.HasSuffix(name, "Response") {
			want = append(want, "freshness")
		}
		slices.Sort(want)
		var got []string
		for p := range s.Properties {
			got = append(got, p)
		}
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("schema %s members (-Go type +openapi.json):\n%s", name, diff)
		}
		for _, r := range s.Required {
			if !slices.Contains(got, r) {
				t.Errorf("schema %s requires %q, which it does not define", name, r)
			}
		}
	}
}

func jsonMembers(typ reflect.Type) []string {
	var out []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

func TestOpenAPIIsServed(t *testing.T) {
	rec := serveGET(newTestServer(t, openStore(t), nil), "/openapi.json")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), openAPI) || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json = %d, %d bytes, %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
	}
}
