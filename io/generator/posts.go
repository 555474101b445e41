package generator

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Post labels.
const (
	LabelNormal = "normal"
	LabelSpam   = "spam"
	LabelAbuse  = "abuse"
)

// PostsConfig says what labelled posts to generate. The zero value of a field means its default.
type PostsConfig struct {
	// Seed makes the stream reproducible.
	Seed uint64
	// Start is the event time of the first post; zero means the Unix epoch.
	Start time.Time
	// EventsPerSecond spaces the posts in event time; default 1.
	EventsPerSecond float64
	// Users is the number of distinct users; default 1000.
	Users int
	// SpamFraction is the fraction of spam posts; default 0.2.
	SpamFraction float64
	// AbuseFraction is the fraction of abusive posts; default 0.1.
	AbuseFraction float64
	// LabelNoise is the fraction of posts whose label is wrong (a spam or abusive post labelled
	// normal, or the other way round), as in hand-labelled data; default 0.03, negative for none.
	LabelNoise float64
}

// Post is one labelled post.
type Post struct {
	// Record is the post: Raw is an event JSON line (type "post") with an extra "label" field
	// holding Label, which consumers of events ignore. Kind is Normal.
	Record
	// Label is the post's label as a labeller gave it: LabelNormal, LabelSpam or LabelAbuse.
	Label string
	// Truth is what the post really is; it differs from Label for the LabelNoise fraction.
	Truth string
}

// Flagged reports whether the post is labelled spam or abuse: what a model should flag.
func (p Post) Flagged() bool { return p.Label != LabelNormal }

// Posts generates labelled posts for training and evaluating the spam and abuse model, and for
// sample data in which the model has something to flag. It is not safe for concurrent use.
//
// Posts are written by the users, on the pages and with the countries and timestamps of the
// clickstream (Generator), but their text, and for spam often the user agent, depend on what
// they are. The data is noisy the way real data is: normal posts use words that spam uses
// ("free", "deal", "click", "code") and sometimes come from an app's HTTP library; spam
// obfuscates its words (fr33, c.l.i.c.k), comes from browsers as often as from scripts, and
// some of it has no link; insults are short and some use no insulting word; and a fraction of
// the labels are wrong.
type Posts struct {
	cfg PostsConfig
	g   *Generator
	rng *rand.Rand
	n   int64
}

// NewPosts returns a labelled post generator for cfg.
func NewPosts(cfg PostsConfig) *Posts {
	if cfg.EventsPerSecond <= 0 {
		cfg.EventsPerSecond = 1
	}
	if cfg.SpamFraction == 0 {
		cfg.SpamFraction = 0.2
	}
	if cfg.AbuseFraction == 0 {
		cfg.AbuseFraction = 0.1
	}
	if cfg.LabelNoise == 0 {
		cfg.LabelNoise = 0.03
	}
	g := New(Config{Seed: cfg.Seed, Start: cfg.Start, EventsPerSecond: cfg.EventsPerSecond, Users: cfg.Users})
	g.idPrefix = "p-" + strconv.FormatUint(cfg.Seed&0xffff, 16) + "-"
	return &Posts{cfg: cfg, g: g, rng: rand.New(rand.NewPCG(cfg.Seed, 0x706f737473))} // "posts"
}

// Next returns the next post.
func (p *Posts) Next() Post {
	g := p.g
	now := g.cfg.Start.Add(time.Duration(float64(p.n) * g.interval))
	p.n++
	t := now.Add(time.Duration(g.rng.Float64() * g.interval))

	truth := LabelNormal
	switch u := p.rng.Float64(); {
	case u < p.cfg.SpamFraction:
		truth = LabelSpam
	case u < p.cfg.SpamFraction+p.cfg.AbuseFraction:
		truth = LabelAbuse
	}
	label := truth
	if p.rng.Float64() < p.cfg.LabelNoise {
		if truth == LabelNormal {
			label = []string{LabelSpam, LabelAbuse}[p.rng.IntN(2)]
		} else {
			label = LabelNormal
		}
	}

	g.events++
	u := g.pickUser()
	ev := &fields{list: make([]field, 0, 10)}
	ev.set("event_id", str(g.idPrefix+strconv.FormatInt(g.events, 10)))
	ev.set("type", str("post"))
	ev.set("user_id", str(u.id))
	ev.set("url", str(p.page(truth)))
	g.setCountry(ev, u.country)
	ev.set("user_agent", str(p.userAgent(truth, u.userAgent)))
	ev.set("text", str(p.text(truth)))
	ts, eventTime := g.timestamp(t)
	ev.set("ts", str(ts))
	ev.set("label", str(label))
	return Post{
		Record: Record{Raw: ev.appendJSON(make([]byte, 0, 320)), EventTime: eventTime, Arrival: now, Kind: Normal},
		Label:  label, Truth: truth,
	}
}

var (
	scriptAgents = []string{"python-requests/2.32.3", "curl/8.7.1", "Go-http-client/2.0",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0 Safari/537.36",
		"okhttp/4.12.0", "Apache-HttpClient/5.3 (Java/21)", "node-fetch/1.0"}
	appAgent = "ShopApp/5.2 (Android 15; Pixel 8) okhttp/4.12.0"
)

// userAgent returns the post's user agent: the user's browser, the shop's app, or for spam
// often a script.
func (p *Posts) userAgent(truth, browser string) string {
	r := p.rng.Float64()
	switch {
	case truth == LabelSpam && r < 0.45:
		return pick(p.rng, scriptAgents)
	case truth == LabelSpam && r < 0.55, truth != LabelSpam && r < 0.12:
		return appAgent
	case truth == LabelNormal && r < 0.13:
		return pick(p.rng, scriptAgents) // an integration posting real reviews
	}
	return browser
}

// page returns the URL the post is on: a blog post or a product page; spam more often carries
// a tracking query.
func (p *Posts) page(truth string) string {
	const shop = "https://shop.example/"
	u := shop + "blog/" + pick(p.rng, blogPosts)
	if p.rng.IntN(3) == 0 {
		u = shop + "p/" + strconv.Itoa(1+p.rng.IntN(200))
	}
	q := 0.05
	if truth == LabelSpam {
		q = 0.3
	}
	if p.rng.Float64() < q {
		u += "?ref=" + pick(p.rng, []string{"mail", "partner", "social", "aff" + strconv.Itoa(p.rng.IntN(100))})
	}
	return u
}

// Vocabulary of the post texts.
var (
	products    = []string{"shoes", "shirt", "hat", "bag", "toy", "book", "jacket", "scarf", "boots", "backpack", "mug", "lamp"}
	colors      = []string{"blue", "red", "black", "green", "white", "navy"}
	praise      = []string{"Love this", "Really happy with the", "Great quality", "Beautiful", "Very comfortable", "Nice", "Perfect", "Exactly as described:", "My kids love the", "Best purchase this year, the"}
	praiseTails = []string{"", ", would buy again", ", thanks!", ", fits perfectly", ". Fast shipping too", " - five stars", ", recommended", " :)", "!!", ". Worth every cent"}
	questions   = []string{"Does the %s come in %s?", "Is the %s true to size?", "When will the %s be back in stock?",
		"Can I return the %s if it does not fit?", "How do I wash the %s?", "Is there a %s in %s for kids?", "Any discount code for the %s?"}
	complaints = []string{"Arrived late, but fine.", "Terrible service, \"never again\"", "The %s broke after a week.",
		"Refund took three weeks, not happy.", "Wrong colour delivered, ordered %s.", "Packaging was damaged, %s ok though.",
		"Customer support never answered my email.", "Size runs small", "Meh. The %s looks cheap in person.",
		"Stupid me, I ordered the wrong size of the %s.", "The old %s design was garbage, this one is great."}
	// Normal posts that use spam's words.
	lookalikes = []string{"Got a free %s with my order, nice deal!", "Click the size guide before you buy, it helps.",
		"Use code WINTER for 10%% off, worked for me on the %s.", "Great deal on the %s during the sale, buy now before it is gone",
		"I earn points with every order, the %s was almost free.", "Check out the blog post about the %s, very useful.",
		"Follow the care guide and the %s lasts for years.", "Won the raffle last month, the %s is my prize :)",
		"Cheap but good, the %s is fine for the price.", "Is the 50%% off %s offer real? Seems too good."}
	others = []string{"ok", "Schöne Schuhe", "Très joli %s", "Fast shipping, thanks", "Does this %s come in blue?", "Great quality \u2764",
		"Muy bonito", "👍", "Second order, same quality.", "Bought it as a gift, she loved the %s."}

	spamOffers = []string{"cheap followers", "1000 likes for $5", "free gift cards", "replica watches 90% off",
		"cheap pills no prescription", "crypto giveaway, send 1 BTC get 2 back", "work from home $500 a day",
		"free iPhone 16", "casino bonus 200% no deposit", "SEO backlinks cheap", "weight loss pills that work",
		"loans approved in 5 minutes", "designer bags wholesale"}
	spamCalls = []string{"BUY NOW", "Click here", "Visit", "DM me for", "Limited offer:", "Act fast:", "Don't miss", "Best price:",
		"Get", "Order", "WIN", "100% legit"}
	spamLinks = []string{"bit.ly/3xK9", "tinyurl.com/freegift", "http://cheap-deals.example/go", "www.win-prize.example",
		"t.me/cryptoboss", "http://pills.example/buy", "goo.gl/abc12", "http://best-replica.example", "wa.me/15550100"}
	spamTails = []string{"!!!", "!!", " $$$", " 🔥🔥", " ✅", "", ".", " 💰", " - 100% guaranteed", " (limited time)"}

	insults       = []string{"idiot", "moron", "loser", "clown", "stupid", "pathetic", "dumb", "trash", "garbage", "fool", "joke"}
	abuseForms    = []string{"you are an %s", "shut up %s", "whoever wrote this is a %s", "go away, %s", "what a %s", "only a %s would buy this", "this shop is run by a %s", "you %s, nobody cares", "%s. %s. %s.", "absolute %s of a review"}
	abuseNoInsult = []string{"nobody asked for your opinion", "get lost", "go cry somewhere else", "people like you should be banned",
		"delete your account", "you should be ashamed of yourself", "I hope your order never arrives"}
)

// text returns a post's text.
func (p *Posts) text(truth string) string {
	switch truth {
	case LabelSpam:
		return p.spam()
	case LabelAbuse:
		return p.abuse()
	}
	return p.normal()
}

func (p *Posts) normal() string {
	product := pick(p.rng, products)
	var s string
	switch r := p.rng.Float64(); {
	case r < 0.3:
		s = pick(p.rng, praise) + " " + product + pick(p.rng, praiseTails)
	case r < 0.5:
		s = sprintf(pick(p.rng, questions), product, pick(p.rng, colors))
	case r < 0.7:
		s = sprintf(pick(p.rng, complaints), product)
	case r < 0.85:
		s = sprintf(pick(p.rng, lookalikes), product)
	default:
		s = sprintf(pick(p.rng, others), product)
	}
	if p.rng.Float64() < 0.05 {
		s = strings.ToUpper(s)
	}
	return s
}

func (p *Posts) spam() string {
	parts := []string{pick(p.rng, spamCalls), pick(p.rng, spamOffers)}
	if p.rng.Float64() < 0.8 {
		parts = append(parts, pick(p.rng, []string{"at", "->", "on", "via", ""}), pick(p.rng, spamLinks))
	}
	if p.rng.Float64() < 0.2 {
		parts = append([]string{"Nice " + pick(p.rng, products) + "!"}, parts...)
	}
	s := strings.Join(strings.Fields(strings.Join(parts, " ")), " ") + pick(p.rng, spamTails)
	switch r := p.rng.Float64(); {
	case r < 0.15:
		s = leet(s)
	case r < 0.22:
		s = spaced(s)
	case r < 0.35:
		s = strings.ToUpper(s)
	}
	return s
}

func (p *Posts) abuse() string {
	if p.rng.Float64() < 0.25 {
		return pick(p.rng, abuseNoInsult)
	}
	form := pick(p.rng, abuseForms)
	a, b, c := pick(p.rng, insults), pick(p.rng, insults), pick(p.rng, insults)
	s := sprintf(form, a, b, c)
	if p.rng.Float64() < 0.3 {
		s = strings.ToUpper(s) + "!"
	}
	return s
}

// leet replaces some letters with look-alike digits, as spam does to dodge filters.
func leet(s string) string {
	return strings.NewReplacer("e", "3", "o", "0", "i", "1", "a", "@").Replace(s)
}

// spaced dots the letters of the first long word ("click" -> "c.l.i.c.k").
func spaced(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if len(w) >= 4 && strings.IndexFunc(w, func(r rune) bool { return r > 0x7f }) < 0 {
			words[i] = strings.Join(strings.Split(w, ""), ".")
			break
		}
	}
	return strings.Join(words, " ")
}

// sprintf fills each %s of format in turn with args (cycling), and turns %% into %.
func sprintf(format string, args ...string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			switch format[i+1] {
			case 's':
				b.WriteString(args[n%len(args)])
				n++
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(format[i])
	}
	return b.String()
}

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }
