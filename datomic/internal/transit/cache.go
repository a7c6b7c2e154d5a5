package transit

// The transit cache replaces the second and later occurrences of a cacheable
// string with "^" and a one- or two-digit base-44 code.

const (
	cacheDigits     = 44
	cacheBase       = '0'
	cacheMax        = cacheDigits * cacheDigits
	minCacheableLen = 4
)

// cacheable reports whether the encoded string s takes a cache slot.
func cacheable(s string, asKey bool) bool {
	if len(s) < minCacheableLen {
		return false
	}
	if asKey {
		return true
	}
	return s[0] == '~' && (s[1] == ':' || s[1] == '$' || s[1] == '#')
}

// isCacheRef reports whether s is a cache reference such as "^3".
func isCacheRef(s string) bool {
	return len(s) > 1 && s[0] == '^' && s[1] != ' '
}

// cacheIndex decodes the code of a cache reference.
func cacheIndex(s string) (int, bool) {
	switch len(s) {
	case 2:
		d := int(s[1]) - cacheBase
		return d, d >= 0 && d < cacheDigits
	case 3:
		hi, lo := int(s[1])-cacheBase, int(s[2])-cacheBase
		ok := hi >= 0 && hi < cacheDigits && lo >= 0 && lo < cacheDigits
		return hi*cacheDigits + lo, ok
	}
	return 0, false
}

// cacheCode encodes cache slot i as a reference.
func cacheCode(i int) string {
	if i < cacheDigits {
		return string([]byte{'^', byte(cacheBase + i)})
	}
	return string([]byte{'^', byte(cacheBase + i/cacheDigits), byte(cacheBase + i%cacheDigits)})
}

// readCache is the reader's side: slot -> encoded string.
type readCache struct{ entries []string }

func (c *readCache) add(s string) {
	if len(c.entries) == cacheMax {
		c.entries = c.entries[:0]
	}
	c.entries = append(c.entries, s)
}

// writeCache is the writer's side: encoded string -> slot.
type writeCache struct{ slots map[string]int }

// lookup returns the reference to write for s, or s itself after giving it a
// slot when it is cacheable and new.
func (c *writeCache) lookup(s string, asKey bool) string {
	if !cacheable(s, asKey) {
		return s
	}
	if i, ok := c.slots[s]; ok {
		return cacheCode(i)
	}
	if c.slots == nil {
		c.slots = make(map[string]int)
	}
	if len(c.slots) == cacheMax {
		clear(c.slots)
	}
	c.slots[s] = len(c.slots)
	return s
}
