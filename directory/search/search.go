// Package search is the in-memory phone-book search behind the directory
// HTTP API, LDAP and caller names. It knows Norwegian spelling: æ, ø, å are
// letters sorted after z, "aa" is the old spelling of å, and people without a
// Norwegian keyboard type "o" for ø, "a" for å and "ae" for æ.
package search

import (
	"slices"
	"sort"
	"strings"
)

// Entry is one person or service in the phone book.
type Entry struct {
	ID         int64
	Kind       string // "person" or "service"
	Name       string // display name, e.g. "Kari Ødegård-Hansen"
	GivenName  string
	FamilyName string
	Title      string
	Department string
	Site       string
	// Numbers are every number the entry is found by: its extension
	// numbers first, then their public numbers (E.164), then Mobile.
	Numbers    []string
	Mobile     string // E.164, also in Numbers; "" for none
	Email      string
	Notes      string // for operators, e.g. "on leave until 3 December"
	Visibility string // store.Visibility: "listed", "internal" or "secret"
}

// Visibility values, as store.Visibility. The strings are repeated here so
// that the package stays free of the store and its dependencies.
const (
	VisibilityListed   = "listed"
	VisibilityInternal = "internal"
	VisibilitySecret   = "secret"
)

// Result page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
)

// Query is one search.
type Query struct {
	// Text is what the user typed. Made only of digits, spaces and "+-()./",
	// it is a number query; otherwise it is words, each of which must match.
	Text string
	// Limit is the page size (DefaultLimit when <= 0, at most MaxLimit);
	// Offset is the number of hits to skip.
	Limit, Offset int
	// Internal is set when the searcher is inside the tenant: internal
	// entries are visible too.
	Internal bool
	// Switchboard is set for the operators' console: secret entries are
	// visible too (store: "secret (switchboard only)"), but only by name;
	// no query ever matches a secret entry by number.
	Switchboard bool
}

// Hit is one search result.
type Hit struct {
	Entry Entry
	Score int // higher is better; 0 for the empty query
}

// Per query word scores. Exact beats prefix beats fuzzy; the keyboard
// spelling (loose) scores a little below the proper one.
const (
	scoreExact      = 100
	scoreLooseExact = 90
	scorePrefix     = 60
	scoreLoosePref  = 50
	scoreFuzzy1     = 30
	scoreFuzzy2     = 20
	penaltyNotName  = 5 // title, department and site rank below the name
)

type visibility uint8

const (
	visListed visibility = iota
	visInternal
	visSecret
)

type fieldKind uint8

const (
	fieldName fieldKind = iota
	fieldOther
)

type docWord struct {
	vocab int32
	field fieldKind
}

type doc struct {
	words []docWord
	nums  []string // number keys; empty for secret entries
	rank  int32    // position in name order
	vis   visibility
}

type vocabWord struct {
	folded string
	loose  string
	runes  []rune // of loose, for the edit distance
}

type numKey struct {
	key string
	doc int32
}

// Index is a built phone book. It is immutable once built and safe for
// concurrent Search.
type Index struct {
	entries  []Entry
	docs     []doc
	byName   []int32 // entry indices in name order
	vocab    []vocabWord
	postings [][]int32 // per vocab word: entries containing it
	nums     []numKey  // sorted by key
}

// NewIndex builds an index over a copy of entries. An empty Name is replaced
// by "GivenName FamilyName"; an unknown visibility is treated as secret, the
// safe side.
func NewIndex(entries []Entry) *Index {
	ix := &Index{
		entries: make([]Entry, len(entries)),
		docs:    make([]doc, len(entries)),
	}
	vocabID := map[string]int32{}
	for i, e := range entries {
		e.Numbers = slices.Clone(e.Numbers)
		if strings.TrimSpace(e.Name) == "" {
			e.Name = strings.TrimSpace(e.GivenName + " " + e.FamilyName)
		}
		ix.entries[i] = e
		d := &ix.docs[i]
		switch e.Visibility {
		case VisibilityListed:
			d.vis = visListed
		case VisibilityInternal:
			d.vis = visInternal
		default:
			d.vis = visSecret
		}

		add := func(text string, f fieldKind) {
			for _, w := range strings.Fields(Fold(text)) {
				id, ok := vocabID[w]
				if !ok {
					id = int32(len(ix.vocab))
					vocabID[w] = id
					l := loose(w)
					ix.vocab = append(ix.vocab, vocabWord{folded: w, loose: l, runes: []rune(l)})
					ix.postings = append(ix.postings, nil)
				}
				j := slices.IndexFunc(d.words, func(dw docWord) bool { return dw.vocab == id })
				if j < 0 {
					d.words = append(d.words, docWord{vocab: id, field: f})
					ix.postings[id] = append(ix.postings[id], int32(i))
				} else if f < d.words[j].field {
					d.words[j].field = f
				}
			}
		}
		add(e.Name, fieldName)
		add(e.GivenName, fieldName)
		add(e.FamilyName, fieldName)
		add(e.Title, fieldOther)
		add(e.Department, fieldOther)
		add(e.Site, fieldOther)

		// Secret numbers are not indexed at all, so no query, whoever
		// asks, can turn a number into a secret person.
		if d.vis != visSecret {
			for _, n := range e.Numbers {
				for _, k := range numberKeys(n) {
					if !slices.Contains(d.nums, k) {
						d.nums = append(d.nums, k)
						ix.nums = append(ix.nums, numKey{key: k, doc: int32(i)})
					}
				}
			}
		}
	}
	sort.Slice(ix.nums, func(a, b int) bool { return ix.nums[a].key < ix.nums[b].key })

	// Name order is computed once so that sorting hits needs no collation.
	keys := make([][]int32, len(ix.entries))
	ix.byName = make([]int32, len(ix.entries))
	for i := range ix.entries {
		keys[i] = collationKey(sortName(&ix.entries[i]))
		ix.byName[i] = int32(i)
	}
	sort.SliceStable(ix.byName, func(a, b int) bool {
		x, y := ix.byName[a], ix.byName[b]
		if c := slices.Compare(keys[x], keys[y]); c != 0 {
			return c < 0
		}
		if ex, ey := ix.entries[x].Name, ix.entries[y].Name; ex != ey {
			return ex < ey
		}
		return ix.entries[x].ID < ix.entries[y].ID
	})
	for r, i := range ix.byName {
		ix.docs[i].rank = int32(r)
	}
	return ix
}

// sortName is what a phone book sorts by: the family name, then the given
// name ("Aasen, Per" among the Å), or the display name of services.
func sortName(e *Entry) string {
	if strings.TrimSpace(e.FamilyName) == "" {
		return e.Name
	}
	return e.FamilyName + " " + e.GivenName
}

// Len returns the number of entries in the index.
func (ix *Index) Len() int { return len(ix.entries) }

// All returns every entry q may see (Text, Limit and Offset are ignored),
// in phone-book order: for phone books that list everything at once.
func (ix *Index) All(q Query) []Entry {
	out := make([]Entry, 0, len(ix.byName))
	for _, i := range ix.byName {
		if q.sees(ix.docs[i].vis) {
			e := ix.entries[i]
			e.Numbers = slices.Clone(e.Numbers)
			out = append(out, e)
		}
	}
	return out
}

func (q Query) sees(v visibility) bool {
	switch v {
	case visListed:
		return true
	case visInternal:
		return q.Internal || q.Switchboard
	default:
		return q.Switchboard
	}
}

type scored struct {
	doc   int32
	score int
}

// Search returns one page of hits, best first, then in phone-book order
// (family name, given name, by Compare), and the total number of hits. An empty query lists every visible entry by name.
func (ix *Index) Search(q Query) (hits []Hit, total int) {
	var res []scored
	if key, ok := numberQuery(q.Text); ok {
		res = ix.searchNumber(key, q)
	} else if words := strings.Fields(Fold(q.Text)); len(words) > 0 {
		res = ix.searchWords(words, q)
	} else {
		res = make([]scored, 0, len(ix.byName))
		for _, i := range ix.byName {
			if q.sees(ix.docs[i].vis) {
				res = append(res, scored{doc: i})
			}
		}
	}
	total = len(res)
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	off := min(max(q.Offset, 0), total)
	end := min(off+limit, total)
	if off == end {
		return nil, total
	}
	page := ix.topN(res, end)[off:end]
	hits = make([]Hit, 0, end-off)
	for _, k := range page {
		s := int(maxScore - k>>32)
		e := ix.entries[ix.byName[uint32(k)]]
		e.Numbers = slices.Clone(e.Numbers) // the index stays immutable
		hits = append(hits, Hit{Entry: e, Score: s})
	}
	return hits, total
}

// maxScore bounds an entry's score in the packed sort key.
const maxScore = 1 << 30

// topN returns the first n results in hit order, as packed keys: the score
// (inverted) in the high half and the name rank in the low half, so that
// plain integer order is hit order and sorting needs no comparison
// callbacks. Broad queries match tens of thousands of entries while a page
// is small, so only the best n are kept, in a max-heap.
func (ix *Index) topN(res []scored, n int) []uint64 {
	key := func(s scored) uint64 {
		return uint64(maxScore-min(s.score, maxScore))<<32 | uint64(uint32(ix.docs[s.doc].rank))
	}
	if n >= len(res)/4 {
		keys := make([]uint64, len(res))
		for i, s := range res {
			keys[i] = key(s)
		}
		slices.Sort(keys)
		return keys[:n]
	}
	h := make([]uint64, 0, n) // max-heap: h[0] is the worst kept
	for _, s := range res {
		k := key(s)
		if len(h) < n {
			h = append(h, k)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if h[p] >= h[i] {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			continue
		}
		if k >= h[0] {
			continue
		}
		h[0] = k
		for i := 0; ; {
			c := 2*i + 1
			if c >= len(h) {
				break
			}
			if c+1 < len(h) && h[c+1] > h[c] {
				c++
			}
			if h[i] >= h[c] {
				break
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	slices.Sort(h)
	return h
}

// wordMatch is the set of vocabulary words one query word matches.
type wordMatch struct {
	score   []uint8 // per vocab word; 0 = no match
	matched []int32
	size    int // sum of postings, to pick the cheapest word to drive
}

func (ix *Index) matchWord(w string) wordMatch {
	m := wordMatch{score: make([]uint8, len(ix.vocab))}
	lw := loose(w)
	lr := []rune(lw)
	maxDist := 0
	switch n := len(lr); {
	case n >= 8:
		maxDist = 2
	case n >= 4:
		maxDist = 1
	}
	for i := range ix.vocab {
		v := &ix.vocab[i]
		var s uint8
		switch {
		case v.folded == w:
			s = scoreExact
		case v.loose == lw:
			s = scoreLooseExact
		case strings.HasPrefix(v.folded, w):
			s = scorePrefix
		case strings.HasPrefix(v.loose, lw):
			s = scoreLoosePref
		case maxDist > 0:
			// osaDistance returns maxDist+1 for "too far", so compare
			// against maxDist rather than trusting the value alone.
			switch d := osaDistance(lr, v.runes, maxDist); {
			case d == 1:
				s = scoreFuzzy1
			case d == 2 && maxDist >= 2:
				s = scoreFuzzy2
			}
		}
		if s > 0 {
			m.score[i] = s
			m.matched = append(m.matched, int32(i))
			m.size += len(ix.postings[i])
		}
	}
	return m
}

func (ix *Index) searchWords(words []string, q Query) []scored {
	ms := make([]wordMatch, len(words))
	driver := 0
	for k, w := range words {
		ms[k] = ix.matchWord(w)
		if ms[k].size == 0 {
			return nil
		}
		if ms[k].size < ms[driver].size {
			driver = k
		}
	}
	seen := make([]uint64, (len(ix.entries)+63)/64)
	var res []scored
	for _, v := range ms[driver].matched {
		for _, i := range ix.postings[v] {
			if seen[i/64]&(1<<(i%64)) != 0 {
				continue
			}
			seen[i/64] |= 1 << (i % 64)
			d := &ix.docs[i]
			if !q.sees(d.vis) {
				continue
			}
			total := 0
			for k := range ms {
				best := 0
				for _, dw := range d.words {
					s := int(ms[k].score[dw.vocab])
					if s > 0 && dw.field != fieldName {
						s -= penaltyNotName
					}
					best = max(best, s)
				}
				if best == 0 {
					total = 0
					break
				}
				total += best
			}
			if total > 0 {
				res = append(res, scored{doc: i, score: total})
			}
		}
	}
	return res
}

func (ix *Index) searchNumber(key string, q Query) []scored {
	lo := sort.Search(len(ix.nums), func(i int) bool { return ix.nums[i].key >= key })
	// Keys equal to the query sort before longer keys with that prefix, so
	// an entry's exact match is always seen before its prefix matches and
	// a bitset is enough to keep the best score.
	seen := make([]uint64, (len(ix.entries)+63)/64)
	var res []scored
	for _, n := range ix.nums[lo:] {
		if !strings.HasPrefix(n.key, key) {
			break
		}
		i := n.doc
		if seen[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		seen[i/64] |= 1 << (i % 64)
		if !q.sees(ix.docs[i].vis) {
			continue
		}
		s := scorePrefix
		if n.key == key {
			s = scoreExact
		}
		res = append(res, scored{doc: i, score: s})
	}
	return res
}

// numberQuery reports whether text is a phone number (digits and the usual
// punctuation only) and returns its search key: the digits, with "+47" or
// "0047" removed so that the national number is matched.
func numberQuery(text string) (string, bool) {
	hasDigit := false
	for _, r := range text {
		switch {
		case r >= '0' && r <= '9':
			hasDigit = true
		case strings.ContainsRune(" +-()./", r):
		default:
			return "", false
		}
	}
	if !hasDigit {
		return "", false
	}
	d, intl := numberDigits(text)
	if intl && strings.HasPrefix(d, "47") {
		d = d[2:]
	}
	return d, d != ""
}

// numberDigits returns the digits of n, without the international prefix
// ("+" or "00"), and whether there was one.
func numberDigits(n string) (digits string, intl bool) {
	n = strings.TrimSpace(n)
	intl = strings.HasPrefix(n, "+")
	var b strings.Builder
	for _, r := range n {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	digits = b.String()
	if !intl && strings.HasPrefix(digits, "00") {
		digits, intl = digits[2:], true
	}
	return digits, intl
}

// NumberKeys is numberKeys for other packages: the digit strings a number
// is known by, the national number first.
func NumberKeys(n string) []string { return numberKeys(n) }

// numberKeys returns the prefixes a stored number can be found by: the
// national number and the number with country code for Norwegian numbers
// ("2233" and "4722" both find +47 22 33 44 55), and the plain digits for
// extensions and foreign numbers.
func numberKeys(n string) []string {
	d, intl := numberDigits(n)
	switch {
	case d == "":
		return nil
	case intl && strings.HasPrefix(d, "47") && len(d) > 2:
		return []string{d[2:], d}
	case intl:
		return []string{d}
	case len(d) == 8: // a national number written without +47
		return []string{d, "47" + d}
	default:
		return []string{d}
	}
}

// osaDistance returns the optimal-string-alignment (restricted
// Damerau–Levenshtein) distance between a and b, or max+1 as soon as it is
// known to exceed max. Transpositions count as one edit because swapped
// letters are the most common typing error.
func osaDistance(a, b []rune, maxd int) int {
	if d := len(a) - len(b); d > maxd || -d > maxd {
		return maxd + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > maxd {
			return maxd + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], maxd+1)
}
