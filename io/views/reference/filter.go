package reference

import (
	"sort"
	"strings"
)

// filters holds the filters of one run that follow ownership, ready to match.
type filters struct {
	countries   map[string]bool
	botPatterns []string // lower-case, non-empty
	blocked     map[string]bool
}

func newFilters(cfg Config) *filters {
	f := &filters{blocked: make(map[string]bool, len(cfg.BlockedUsers))}
	if len(cfg.Countries) > 0 {
		f.countries = make(map[string]bool, len(cfg.Countries))
		for _, c := range cfg.Countries {
			f.countries[strings.ToUpper(c)] = true
		}
	}
	for _, p := range cfg.BotPatterns {
		if p != "" {
			f.botPatterns = append(f.botPatterns, strings.ToLower(p))
		}
	}
	for _, u := range cfg.BlockedUsers {
		f.blocked[u] = true
	}
	return f
}

// match returns the name of the first filter that ev matches, or "" when it passes them all.
// (The "out_of_range" filter comes before these and depends on the record's partition: see
// Compute.)
func (f *filters) match(ev *event) string {
	if f.countries != nil && !f.countries[ev.country] {
		return filterCountry
	}
	if f.isBot(ev.userAgent) {
		return filterBot
	}
	if f.blocked[ev.user] {
		return filterBlockedUser
	}
	return ""
}

func (f *filters) isBot(userAgent string) bool {
	if len(f.botPatterns) == 0 {
		return false
	}
	ua := strings.ToLower(userAgent)
	for _, p := range f.botPatterns {
		if strings.Contains(ua, p) {
			return true
		}
	}
	return false
}

// unknownCategory is the category of events whose URL matches no prefix.
const unknownCategory = "unknown"

// categorizer finds the category of the longest matching URL prefix.
type categorizer struct {
	categories map[string]string
	lengths    []int // the distinct prefix lengths, longest first
}

func newCategorizer(categories map[string]string) *categorizer {
	seen := map[int]bool{}
	c := &categorizer{categories: categories}
	for p := range categories {
		if !seen[len(p)] {
			seen[len(p)] = true
			c.lengths = append(c.lengths, len(p))
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(c.lengths)))
	return c
}

// category returns the category of url's longest prefix in the table, else "unknown" (also for
// an empty url).
func (c *categorizer) category(url string) string {
	if url == "" {
		return unknownCategory
	}
	for _, n := range c.lengths {
		if n > len(url) {
			continue
		}
		if cat, ok := c.categories[url[:n]]; ok {
			return cat
		}
	}
	return unknownCategory
}
