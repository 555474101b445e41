package reference

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReadLake reads the records of the days from..to (To inclusive) from the local lake at root:
// every *.jsonl and *.jsonl.gz file under raw/dt=YYYY-MM-DD/hr=*/, in sorted path order. A file's
// records are its lines: the empty segment after a final '\n' is not a record, one trailing '\r'
// is stripped, and an empty file has none. Missing days have no records.
func ReadLake(root string, from, to time.Time) ([]Record, error) {
	if _, err := os.Stat(filepath.Join(root, "raw")); err != nil {
		return nil, fmt.Errorf("read lake %s: %w", root, err)
	}
	files, err := lakeFiles(root, from, to)
	if err != nil {
		return nil, err
	}
	var recs []Record
	for _, rel := range files {
		data, err := readFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		recs = appendRecords(recs, rel, data)
	}
	return recs, nil
}

// lakeFiles lists the lake files of the days from..to as sorted slash-separated paths relative to
// root.
func lakeFiles(root string, from, to time.Time) ([]string, error) {
	var files []string
	for day := from.UTC(); !day.After(to.UTC()); day = day.AddDate(0, 0, 1) {
		dayDir := path.Join("raw", "dt="+day.Format(time.DateOnly))
		hours, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dayDir)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read lake %s: %w", root, err)
		}
		for _, hour := range hours {
			if !hour.IsDir() || !strings.HasPrefix(hour.Name(), "hr=") {
				continue
			}
			hourDir := path.Join(dayDir, hour.Name())
			entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(hourDir)))
			if err != nil {
				return nil, fmt.Errorf("read lake %s: %w", root, err)
			}
			for _, e := range entries {
				if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".jsonl") || strings.HasSuffix(e.Name(), ".jsonl.gz")) {
					files = append(files, path.Join(hourDir, e.Name()))
				}
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

// readFile returns a lake file's contents, decompressed when its name ends in ".gz".
func readFile(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil || !strings.HasSuffix(name, ".gz") {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	data, err = io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// appendRecords appends the records of one file, called rel, to recs.
func appendRecords(recs []Record, rel string, data []byte) []Record {
	if len(data) == 0 {
		return recs
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	for i, line := range bytes.Split(data, []byte("\n")) {
		recs = append(recs, Record{
			Raw:    bytes.TrimSuffix(line, []byte("\r")),
			Source: rel + ":" + strconv.Itoa(i+1),
		})
	}
	return recs
}

// ReadCategories reads the reference CSV at path (header "url_prefix,category") into a map from
// URL prefix to category. A prefix listed twice is an error.
func ReadCategories(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read categories %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 2
	lines, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read categories %s: %w", path, err)
	}
	if len(lines) == 0 || lines[0][0] != "url_prefix" || lines[0][1] != "category" {
		return nil, fmt.Errorf("read categories %s: header is not url_prefix,category", path)
	}
	cats := make(map[string]string, len(lines)-1)
	for _, l := range lines[1:] {
		if _, dup := cats[l[0]]; dup {
			return nil, fmt.Errorf("read categories %s: prefix %q listed twice", path, l[0])
		}
		cats[l[0]] = l[1]
	}
	return cats, nil
}
