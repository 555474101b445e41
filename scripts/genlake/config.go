package main

import (
	"fmt"
	"time"

	"github.com/beamline/beamline/io/generator"
)

// config is what to write.
type config struct {
	out                 string
	seed                uint64
	events, days, users int
	from                time.Time
	dup, late, bad, bot float64
	gzipFraction        float64
	filesPerHour        int
}

func (c config) validate() error {
	switch {
	case c.out == "":
		return fmt.Errorf("--out is required")
	case c.events < 0 || c.days < 1 || c.filesPerHour < 1:
		return fmt.Errorf("--events must be >= 0, --days and --files_per_hour >= 1")
	case c.dup+c.late+c.bad+c.bot > 1:
		return fmt.Errorf("--dup, --late, --bad and --bot add up to more than 1")
	}
	return nil
}

// generator returns the generator that c describes.
func (c config) generator() *generator.Generator {
	users := c.users
	if users <= 0 {
		users = max(50, c.events/20)
	}
	return generator.New(generator.Config{
		Seed: c.seed, Start: c.from, Users: users,
		EventsPerSecond: float64(c.events) / (float64(c.days) * 86400),
		DupFraction:     c.dup, LateFraction: c.late, BadFraction: c.bad, BotFraction: c.bot,
	})
}
