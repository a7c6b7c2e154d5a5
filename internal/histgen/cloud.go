package histgen

import (
	"slices"
	"strings"
	"unicode/utf16"
)

// cloudAttrs are the attributes of a Cloud history: baseAttrs without the
// bytes attribute, and h/text for strings up to Cloud's limit.
func cloudAttrs() []attrSpec {
	attrs := slices.DeleteFunc(slices.Clone(baseAttrs), func(s attrSpec) bool { return s.vt == "bytes" })
	return append(attrs, attrSpec{ident: "h/text", vt: "string"})
}

// cloudPlainAttrs are plainAttrs without the bytes attribute, with h/text.
func cloudPlainAttrs() []string {
	plain := slices.DeleteFunc(slices.Clone(plainAttrs), func(s string) bool { return s == "h/raw" })
	return append(plain, "h/text")
}

// cloudRunes are the characters of cloudString: one, two and three UTF-8
// bytes for one UTF-16 unit, and four bytes for two units (outside the
// Basic Multilingual Plane), so that neither a count of bytes nor one of
// runes gives Cloud's length.
var cloudRunes = []rune{'a', 'z', '7', ' ', 'é', 'ß', '中', '語', '😀', '𝄞'}

// cloudString returns a string of at most limit UTF-16 code units: half of
// them exactly limit, the others of a random length up to it.
func (g *gen) cloudString(limit int) string {
	r := g.rnd
	n := limit
	if r.IntN(2) == 0 {
		n = 1 + r.IntN(limit)
	}
	var b strings.Builder
	for units := 0; units < n; {
		c := cloudRunes[r.IntN(len(cloudRunes))]
		w := utf16.RuneLen(c)
		if units+w > n {
			c, w = 'x', 1
		}
		b.WriteRune(c)
		units += w
	}
	return b.String()
}
