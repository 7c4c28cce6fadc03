package search

import (
	"slices"
	"strings"
	"unicode"
)

// foldMap turns accented and foreign letters into the letters a Norwegian
// types for them. æ, ø and å are letters of their own and are not listed.
// ä and ö become æ and ø because Norwegian collation treats them as the same
// letters (Swedish and German names are common in the directory); the other
// marks are dropped. The input is already lower case.
var foldMap = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ā': "a", 'ă': "a", 'ą': "a",
	'ä': "æ", 'ǽ': "æ", 'ǻ': "å",
	'ç': "c", 'ć': "c", 'č': "c", 'ĉ': "c", 'ċ': "c",
	'ď': "d", 'đ': "d", 'ð': "d",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'ğ': "g", 'ģ': "g",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'į': "i", 'ı': "i",
	'ķ': "k",
	'ĺ': "l", 'ļ': "l", 'ľ': "l", 'ł': "l",
	'ñ': "n", 'ń': "n", 'ņ': "n", 'ň': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ō': "o", 'ő': "o",
	'ö': "ø", 'ǿ': "ø",
	'œ': "oe",
	'ŕ': "r", 'ř': "r",
	'ś': "s", 'š': "s", 'ş': "s", 'ș': "s", 'ß': "ss",
	'ť': "t", 'ţ': "t", 'ț': "t", 'þ': "th",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ű': "u", 'ų': "u",
	'ý': "y", 'ÿ': "y",
	'ź': "z", 'ż': "z", 'ž': "z",
}

// Combining marks that matter: a decomposed "å" or "ä"/"ö" must fold like the
// precomposed letter, or the same name typed on two systems would not match.
const (
	combiningRing      = '\u030A'
	combiningDiaeresis = '\u0308'
)

// isApostrophe reports whether r joins the parts of a name such as O'Brien,
// so that "obrien" and "o'brien" give the same word.
func isApostrophe(r rune) bool {
	return r == '\'' || r == '\u2019' || r == '\u02BC' || r == '`' || r == '\u00B4'
}

// Fold returns the search key of s: lower case words separated by single
// spaces, accents folded, æ ø å kept, and "aa" written as "å".
//
// Rules: letters are lowered; é→e, ü→u and the like (see foldMap); ä→æ and
// ö→ø; æ, ø, å stay letters; the old spelling "aa" becomes "å" (Aasen and
// Åsen share a key); apostrophes are dropped; every other rune that is not a
// letter or digit (space, hyphen, punctuation) separates words. Fold is
// idempotent.
func Fold(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if isApostrophe(r) {
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			// A mark modifies the letter before it; most marks are simply
			// dropped, as for precomposed accented letters.
			if n := len(out); n > 0 {
				switch {
				case r == combiningRing && out[n-1] == 'a':
					out[n-1] = 'å'
				case r == combiningDiaeresis && out[n-1] == 'a':
					out[n-1] = 'æ'
				case r == combiningDiaeresis && out[n-1] == 'o':
					out[n-1] = 'ø'
				}
			}
			continue
		}
		r = unicode.ToLower(r)
		if m, ok := foldMap[r]; ok {
			out = append(out, []rune(m)...)
		} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, r)
		} else {
			out = append(out, ' ')
		}
	}

	// Second pass: collapse separators and rewrite "aa". Done after mapping
	// so that "àa" and a decomposed å behave like their plain spellings.
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(out); i++ {
		r := out[i]
		if r == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if r == 'a' && i+1 < len(out) && out[i+1] == 'a' {
			r = 'å'
			i++
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Loose is loose for other packages' matching (LDAP filters): the keyboard
// spelling of a folded word.
func Loose(folded string) string { return loose(folded) }

// loose returns the spelling of a folded word as typed on a keyboard without
// Norwegian letters: æ→ae, ø→o, å→a. Matching on it lets "odegard",
// "Odegaard" and "bjorn" find Ødegård and Bjørn, at a lower score than the
// proper spelling.
func loose(folded string) string {
	if !strings.ContainsAny(folded, "æøå") {
		return folded
	}
	var b strings.Builder
	b.Grow(len(folded))
	for _, r := range folded {
		switch r {
		case 'æ':
			b.WriteString("ae")
		case 'ø':
			b.WriteByte('o')
		case 'å':
			b.WriteByte('a')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// collationKey maps the folded form of s to weights whose lexical order is
// Norwegian alphabetical order: space, digits, a–z, æ, ø, å, then any other
// letter by code point.
func collationKey(s string) []int32 {
	f := Fold(s)
	key := make([]int32, 0, len(f))
	for _, r := range f {
		var w int32
		switch {
		case r == ' ':
			w = 1
		case r >= '0' && r <= '9':
			w = 10 + r - '0'
		case r >= 'a' && r <= 'z':
			w = 100 + r - 'a'
		case r == 'æ':
			w = 200
		case r == 'ø':
			w = 201
		case r == 'å':
			w = 202
		default:
			w = 1000 + r
		}
		key = append(key, w)
	}
	return key
}

// Compare orders a and b as a Norwegian phone book does: case and accents
// are ignored, æ, ø, å come after z, and "aa" sorts as å. It returns 0 when
// the two fold to the same key.
func Compare(a, b string) int {
	return slices.Compare(collationKey(a), collationKey(b))
}
