package dcbackup

import (
	"context"

	"github.com/dcbackup/dcbackup/datomic"
)

// segmentBuilder collects transactions into a Segment, with the attribute
// dictionary and the bootstrap idents they mention.
type segmentBuilder struct {
	schema *sourceSchema
	seg    *Segment
	datoms int
	// lastAttr caches the most recent attribute lookup: datoms of one
	// attribute tend to come in runs.
	lastAttr datomic.Attribute
}

func newSegmentBuilder(schema *sourceSchema, db string, startT int64) *segmentBuilder {
	b := &segmentBuilder{schema: schema}
	b.reset(db, startT)
	return b
}

func (b *segmentBuilder) reset(db string, startT int64) {
	b.seg = &Segment{
		Version: SegmentFormatVersion,
		DB:      db,
		StartT:  startT,
		Attrs:   map[int64]datomic.Attribute{},
		Idents:  map[int64]datomic.Keyword{},
	}
	b.datoms = 0
	b.lastAttr = datomic.Attribute{}
}

// add appends tx, recording the attributes and bootstrap entities it uses.
func (b *segmentBuilder) add(ctx context.Context, tx datomic.Tx) error {
	lastE := int64(-1)
	for i := range tx.Datoms {
		d := &tx.Datoms[i]
		a := b.lastAttr
		if a.ID != d.A || a.ID == 0 {
			var ok bool
			if a, ok = b.seg.Attrs[d.A]; !ok {
				var err error
				if a, err = b.schema.attribute(ctx, d.A); err != nil {
					return err
				}
				b.seg.Attrs[d.A] = a
				b.noteEntity(d.A)
			}
			b.lastAttr = a
		}
		if d.E != d.Tx && d.E != lastE {
			b.noteEntity(d.E)
			lastE = d.E
		}
		switch {
		case a.ValueType == datomic.TypeRef:
			if v, ok := d.V.(int64); ok {
				b.noteEntity(v)
			}
		case a.ValueType == datomic.TypeTuple && a.HasRefsInTuple():
			if t, ok := d.V.(datomic.Tuple); ok {
				for i, e := range t {
					if id, ok := e.(int64); ok && a.TupleElemType(i) == datomic.TypeRef {
						b.noteEntity(id)
					}
				}
			}
		}
	}
	b.seg.Txs = append(b.seg.Txs, tx)
	b.datoms += len(tx.Datoms)
	return nil
}

func (b *segmentBuilder) noteEntity(id int64) {
	if id > b.schema.maxBootstrap {
		return
	}
	if kw, ok := b.schema.bootstrap[id]; ok {
		b.seg.Idents[id] = kw
	}
}

// full reports whether the segment reached the configured limits.
func (b *segmentBuilder) full(o *BackupOptions) bool {
	return len(b.seg.Txs) >= o.maxTx() || b.datoms >= o.maxDatoms()
}
