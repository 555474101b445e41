package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// stats say what write wrote.
type stats struct {
	records, files int
	lateFiles      int // files opened for an hour that had passed: late records and duplicates
}

// write generates c.events records into the lake at c.out.
func write(c config) (stats, error) {
	gen := c.generator()
	l := &lake{
		root:    c.out,
		perFile: max(1, c.events/(c.days*24*c.filesPerHour)),
		gzip:    c.gzipFraction,
		rng:     rand.New(rand.NewPCG(c.seed, 0x677a6970)), // "gzip"
		parts:   map[time.Time]*partition{},
	}
	var hour time.Time
	for range c.events {
		rec := gen.Next()
		if h := rec.Arrival.Truncate(time.Hour); h.After(hour) {
			hour = h
			if err := l.closeBefore(hour); err != nil {
				return l.stats, err
			}
		}
		if err := l.add(rec.EventTime, hour, rec.Raw); err != nil {
			return l.stats, err
		}
	}
	return l.stats, l.closeAll()
}

// lake writes records into hour partitions.
type lake struct {
	root    string
	perFile int     // records per file
	gzip    float64 // fraction of files gzipped
	rng     *rand.Rand
	parts   map[time.Time]*partition // by hour
	stats   stats
}

// partition is one hour partition: its open file, if any, and the number of its next file.
type partition struct {
	file  *file
	lines int
	next  int
}

// add writes one record, arriving in the hour now, to the partition of eventTime.
func (l *lake) add(eventTime, now time.Time, raw []byte) error {
	hour := eventTime.UTC().Truncate(time.Hour)
	p := l.parts[hour]
	if p == nil {
		p = &partition{}
		l.parts[hour] = p
	}
	if p.file != nil && p.lines >= l.perFile {
		if err := l.closeFile(p); err != nil {
			return err
		}
	}
	if p.file == nil {
		if err := l.open(hour, p); err != nil {
			return err
		}
		if hour.Before(now) {
			l.stats.lateFiles++
		}
	}
	p.lines++
	l.stats.records++
	return p.file.writeLine(raw)
}

// open opens the next file of the partition of hour.
func (l *lake) open(hour time.Time, p *partition) error {
	name := fmt.Sprintf("part-%05d.jsonl", p.next)
	zipped := l.rng.Float64() < l.gzip
	if zipped {
		name += ".gz"
	}
	dir := filepath.Join(l.root, "raw", "dt="+hour.Format(time.DateOnly), "hr="+hour.Format("15"))
	f, err := createFile(filepath.Join(dir, name), zipped)
	if err != nil {
		return err
	}
	p.file, p.lines = f, 0
	p.next++
	l.stats.files++
	return nil
}

// closeBefore closes the open files of the partitions before hour; late records for them will
// go to new files.
func (l *lake) closeBefore(hour time.Time) error {
	for h, p := range l.parts {
		if h.Before(hour) && p.file != nil {
			if err := l.closeFile(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeAll closes every open file.
func (l *lake) closeAll() error {
	for _, p := range l.parts {
		if p.file != nil {
			if err := l.closeFile(p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *lake) closeFile(p *partition) error {
	err := p.file.close()
	p.file = nil
	return err
}

// file is one lake file being written.
type file struct {
	f    *os.File
	zw   *gzip.Writer // nil unless gzipped
	bw   *bufio.Writer
	name string
}

// createFile creates a new file (never overwriting one), gzipped if zipped.
func createFile(name string, zipped bool) (*file, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	out := &file{f: f, name: name}
	var w io.Writer = f
	if zipped {
		out.zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = out.zw
	}
	out.bw = bufio.NewWriterSize(w, 256<<10)
	return out, nil
}

func (f *file) writeLine(raw []byte) error {
	_, _ = f.bw.Write(raw) // bufio's errors stick: WriteByte reports them
	if err := f.bw.WriteByte('\n'); err != nil {
		return fmt.Errorf("write %s: %w", f.name, err)
	}
	return nil
}

func (f *file) close() error {
	err := f.bw.Flush()
	if f.zw != nil {
		if zerr := f.zw.Close(); err == nil {
			err = zerr
		}
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", f.name, err)
	}
	return nil
}
