package reference

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beamline/beamline/io/views"
)

// WriteCSV writes rows as CSV with the header view,key,window_start,window_end,metrics: times in
// RFC 3339 UTC, metrics as name=value pairs sorted by name and joined by ';'. Rows are written
// in the order given.
func WriteCSV(w io.Writer, rows []views.Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"view", "key", "window_start", "window_end", "metrics"}); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, r := range rows {
		rec := []string{r.View, r.Key, r.WindowStart.UTC().Format(time.RFC3339),
			r.WindowEnd.UTC().Format(time.RFC3339), formatMetrics(r.Metrics)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// formatMetrics formats metrics as "a=1;b=2", sorted by name.
func formatMetrics(metrics map[string]int64) string {
	names := make([]string, 0, len(metrics))
	for name := range metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + "=" + strconv.FormatInt(metrics[name], 10)
	}
	return strings.Join(parts, ";")
}
