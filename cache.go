package dcbackup

// idCache is a bounded map from source entity id to target entity id. It
// keeps two generations: lookups hit either, inserts go to the young one,
// and when the young one is full the old one is dropped. Memory stays
// below about twice the capacity's worth of entries, and recently used ids
// survive.
type idCache struct {
	young, old map[int64]int64
	half       int
	hits, miss int64
}

func newIDCache(capacity int) *idCache {
	if capacity <= 0 {
		capacity = 1 << 20
	}
	half := max(capacity/2, 1)
	return &idCache{young: make(map[int64]int64, min(half, 1<<16)), half: half}
}

func (c *idCache) get(src int64) (int64, bool) {
	if v, ok := c.young[src]; ok {
		c.hits++
		return v, true
	}
	if v, ok := c.old[src]; ok {
		c.hits++
		c.put(src, v)
		return v, true
	}
	c.miss++
	return 0, false
}

func (c *idCache) put(src, dst int64) {
	if len(c.young) >= c.half {
		c.old = c.young
		c.young = make(map[int64]int64, min(c.half, 1<<16))
	}
	c.young[src] = dst
}
