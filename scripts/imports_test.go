package scripts_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirections checks DESIGN.md's dependency rules on the module's packages (test files
// aside): nothing imports pipelines or serving from outside them, imports point pipelines ->
// transforms -> io (io knows no transform: the event model and the view schema live in io), and
// serving reads the store through io only.
func TestImportDirections(t *testing.T) {
	const module = "github.com/beamline/beamline/"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	top := func(path string) string {
		rest, _ := strings.CutPrefix(path, module)
		first, _, _ := strings.Cut(rest, "/")
		return first
	}
	packages := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		packages++
		from := top(p.ImportPath)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := top(imp)
			switch {
			case (to == "pipelines" || to == "serving" || to == "scripts") && from != to:
				t.Errorf("%s imports %s: nothing outside %s may import it", p.ImportPath, imp, to)
			case from == "serving" && to != "serving" && to != "io":
				t.Errorf("%s imports %s: serving depends on io only", p.ImportPath, imp)
			case from == "io" && to == "transforms":
				t.Errorf("%s imports %s: imports point pipelines -> transforms -> io, never back", p.ImportPath, imp)
			}
		}
	}
	if packages < 20 {
		t.Fatalf("go list listed %d packages: the check saw too little", packages)
	}
}
