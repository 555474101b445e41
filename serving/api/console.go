package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// The console: a page at /ui that shows the status, the last batch runs with their quality, a
// chart of one view and key over a range with the batch cutoff drawn, and the top keys. Its
// files are embedded; the chart library (uPlot) is vendored from npm at a pinned version (see
// ui/vendor/uplot/VERSION). The files hold no data: every number comes from the API, with the
// bearer token when the server has one (given once as /ui/#token=..., kept for the tab).
//
//go:embed ui
var uiFiles embed.FS

// consoleHandler serves the console's files under /ui/.
func consoleHandler() http.Handler {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree always has ui
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
