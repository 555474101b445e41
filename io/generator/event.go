package generator

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// user is one synthetic visitor.
type user struct {
	id, country, userAgent string
}

var (
	countries = []string{"DE", "DE", "DE", "DE", "DE", "US", "US", "US", "US", "FR", "FR", "FR",
		"GB", "GB", "IN", "IN", "BR", "BR", "NL", "ES"}
	browsers = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Mobile/15E148",
		"Mozilla/5.0 (Linux; Android 15; Pixel 9) Chrome/131.0 Mobile",
	}
	bots = []string{
		"Googlebot/2.1 (+http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0)",
		"SomeCrawler/1.0",
		"spider",
		"Mozilla/5.0 (compatible; BINGBOT/2.0)",
		"Baiduspider/2.0",
		"MegaCRAWLER",
	}
	categoryPages = []string{"shoes", "shirts", "hats", "bags", "toys", "books"}
	blogPosts     = []string{"2026/11/winter-sale", "2026/10/new-arrivals", "2026/09/care-guide",
		"sizing-tips", "behind-the-scenes"}
	helpTopics = []string{"shipping", "returns", "payment", "account", "contact"}
	otherURLs  = []string{"https://news.example/article/42", "https://partner.example/deal/7",
		"https://partner.example/deal/9", "http://shop.example/p/1", "https://blog.example.org/"}
	texts = []string{"Love it!", "Arrived late, but fine.", "Does this come in blue?",
		"Great quality \u2764", "Would buy again", "Terrible service, \"never again\"",
		"Size runs small", "ok", "Schöne Schuhe", "Fast shipping, thanks"}
	zones = []*time.Location{time.FixedZone("", 2*3600), time.FixedZone("", -5*3600),
		time.FixedZone("", 5*3600+1800), time.FixedZone("", 3600)}
)

// newUser returns user number i, with a home country and browser.
func newUser(rng *rand.Rand, i int) user {
	return user{
		id:        "u-" + strconv.Itoa(i),
		country:   countries[rng.IntN(len(countries))],
		userAgent: browsers[rng.IntN(len(browsers))],
	}
}

// activeUsers is how many recently active users the generator remembers.
const activeUsers = 64

// pickUser returns a user: often one who was active recently (continuing or resuming a
// session), else one drawn from all users, skewed towards a core of frequent visitors.
func (g *Generator) pickUser() *user {
	if len(g.active) > 0 && g.rng.Float64() < 0.6 {
		return &g.users[g.active[g.rng.IntN(len(g.active))]]
	}
	r := g.rng.Float64()
	i := int(r * r * float64(len(g.users)))
	if len(g.active) < activeUsers {
		g.active = append(g.active, i)
	} else {
		g.active[g.rng.IntN(activeUsers)] = i
	}
	return &g.users[i]
}

// newEvent returns the fields of a new valid event, without ts.
func (g *Generator) newEvent(bot bool) *fields {
	g.events++
	u := g.pickUser()
	ua := u.userAgent
	if bot {
		u = &g.users[g.rng.IntN(len(g.users))]
		ua = bots[g.rng.IntN(len(bots))]
	}
	ev := &fields{list: make([]field, 0, 10)}
	ev.set("event_id", str(g.idPrefix+strconv.FormatInt(g.events, 10)))
	typ := g.eventType()
	ev.set("type", str(typ))
	ev.set("user_id", str(u.id))
	if typ != "post" || g.rng.IntN(2) == 0 {
		ev.set("url", str(g.url(typ)))
	}
	g.setCountry(ev, u.country)
	if g.rng.Float64() < 0.98 || bot {
		ev.set("user_agent", str(ua))
	}
	switch {
	case typ == "post":
		ev.set("text", str(texts[g.rng.IntN(len(texts))]))
	case g.rng.Float64() < 0.01:
		ev.set("text", null)
	}
	g.extraField(ev)
	return ev
}

func (g *Generator) eventType() string {
	switch r := g.rng.Float64(); {
	case r < 0.7:
		return "pageview"
	case r < 0.9:
		return "click"
	default:
		return "post"
	}
}

// url returns a URL, mostly in the shop; posts comment on blog posts.
func (g *Generator) url(typ string) string {
	const shop = "https://shop.example/"
	if typ == "post" {
		return shop + "blog/" + blogPosts[g.rng.IntN(len(blogPosts))]
	}
	switch r := g.rng.Float64(); {
	case r < 0.35:
		p := g.rng.Float64()
		return shop + "p/" + strconv.Itoa(1+int(p*p*200))
	case r < 0.55:
		return shop + "c/" + categoryPages[g.rng.IntN(len(categoryPages))]
	case r < 0.65:
		return shop + "blog/" + blogPosts[g.rng.IntN(len(blogPosts))]
	case r < 0.73:
		return shop + "help/" + helpTopics[g.rng.IntN(len(helpTopics))]
	case r < 0.85:
		return shop
	case r < 0.88:
		return shop + "cart"
	case r < 0.90:
		return shop + "p/" + strconv.Itoa(1+g.rng.IntN(20)) + "?utm_source=mail"
	default:
		return otherURLs[g.rng.IntN(len(otherURLs))]
	}
}

// setCountry sets the user's country: mostly as is, sometimes lower-case, missing, null or empty.
func (g *Generator) setCountry(ev *fields, country string) {
	switch r := g.rng.Float64(); {
	case r < 0.90:
		ev.set("country", str(country))
	case r < 0.95:
		ev.set("country", str(string(country[0]+'a'-'A')+string(country[1]+'a'-'A')))
	case r < 0.98:
	case r < 0.99:
		ev.set("country", null)
	default:
		ev.set("country", str(""))
	}
}

// extraField sometimes adds an unknown field, which consumers ignore whatever its type.
func (g *Generator) extraField(ev *fields) {
	switch r := g.rng.Float64(); {
	case r < 0.01:
		ev.set("ref", str("newsletter"))
	case r < 0.02:
		ev.set("v", lit("2"))
	case r < 0.03:
		ev.set("tags", lit(`["sale",null]`))
	}
}

// timestamp formats t as the ts field: mostly milliseconds in UTC, sometimes whole seconds,
// nanoseconds or a zone offset. It returns the text and the time that it denotes, in UTC.
func (g *Generator) timestamp(t time.Time) (string, time.Time) {
	t = t.UTC()
	switch r := g.rng.Float64(); {
	case r < 0.85:
		t = t.Truncate(time.Millisecond)
		return t.Format("2006-01-02T15:04:05.000Z07:00"), t
	case r < 0.90:
		t = t.Truncate(time.Second)
		return t.Format(time.RFC3339), t
	case r < 0.95:
		return t.Format(time.RFC3339Nano), t
	default:
		t = t.Truncate(time.Millisecond)
		return t.In(zones[g.rng.IntN(len(zones))]).Format("2006-01-02T15:04:05.000Z07:00"), t
	}
}
