package dcbackup

// idCache is a bounded map from source entity id to a target entity id (or,
// for Verify, the reverse). It keeps two generations: lookups hit either,
// inserts go to the young one, and when the young one is full the old one
// is dropped. Memory stays below about twice the capacity's worth of
// entries, and recently used ids survive. The restore keeps its values
// boxed (V is any), so that a hit costs no allocation.
type idCache[V any] struct {
	young, old map[int64]V
	half       int
	hits, miss int64
}

func newIDCache[V any](capacity int) *idCache[V] {
	if capacity <= 0 {
		capacity = 1 << 20
	}
	half := max(capacity/2, 1)
	return &idCache[V]{young: make(map[int64]V, min(half, 1<<16)), half: half}
}

func (c *idCache[V]) get(src int64) (V, bool) {
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
	var zero V
	return zero, false
}

func (c *idCache[V]) put(src int64, dst V) {
	if len(c.young) >= c.half {
		c.old = c.young
		c.young = make(map[int64]V, min(c.half, 1<<16))
	}
	c.young[src] = dst
}
