package dcbackup

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dcbackup/dcbackup/datomic"
)

// checkRenamedSince finds, in a restore that continues an earlier one, the
// attributes renamed in the source since: their ident at the end of the
// store is not the one the earlier calls' options knew them by, as the
// target records it (AttributeNamesAttr) or, where it records none, as
// the target's own ident for the attribute says. Options that treat such an
// attribute differently under its two idents would change what the
// target receives of it midway (a Filter keeping a password out under
// its old name lets it in under the new one): ElideAttributes and Rewrite
// are compared here, before anything is applied; the Filter is asked
// under both names for each datom (filter), and an attribute the target
// lacks must be installed by what the call applies (checkInstalled), both
// in the preflight.
func (r *restorer) checkRenamedSince(ctx context.Context) error {
	r.formerIdents, r.absentRenamed = nil, nil
	if r.remap == nil || r.st.lastT < 0 || len(r.finalIdents) == 0 {
		return nil
	}
	recorded, err := parseNames(r.st.names)
	if err != nil {
		return err
	}
	for src, final := range r.finalIdents {
		if kw, ok := recorded[src]; ok {
			// What the last restore that named attributes knew it by.
			if err := r.compareNames(src, kw, final); err != nil {
				return err
			}
			continue
		}
		if !r.remap.isRestored(src) {
			// Not in the target: installed later, or elided by an earlier
			// call under another ident (checked in the preflight).
			if !r.elided(final) && len(r.opts.ElideAttributes) > 0 {
				if r.absentRenamed == nil {
					r.absentRenamed = map[int64]datomic.Keyword{}
				}
				r.absentRenamed[src] = final
			}
			continue
		}
		tid, ok := r.remap.cache.get(src)
		if !ok {
			if err := r.remap.lookupIDs(ctx, []int64{src}); err != nil {
				return fmt.Errorf("look up renamed attribute %s in the target: %w", final, err)
			}
			tid, _ = r.remap.cache.get(src)
		}
		id, ok := tid.(int64)
		if !ok {
			continue
		}
		db, err := r.remap.targetDB(ctx) // read only where nothing is recorded
		if err != nil {
			return err
		}
		kw, ok, err := db.Ident(ctx, id)
		if err != nil {
			return fmt.Errorf("look up renamed attribute %s in the target: %w", final, err)
		}
		if !ok {
			continue
		}
		if err := r.compareNames(src, kw, final); err != nil {
			return err
		}
	}
	return nil
}

// compareNames checks the options against attribute src's former ident
// and its final one: ElideAttributes and Rewrite must treat both alike;
// the Filter is asked under both for each datom (formerIdents).
func (r *restorer) compareNames(src int64, former, final datomic.Keyword) error {
	if former == final {
		return nil
	}
	if r.elided(former) != r.elided(final) {
		return renamedSinceError(former, final, "ElideAttributes")
	}
	if (r.opts.Rewrite[former] == nil) != (r.opts.Rewrite[final] == nil) {
		return renamedSinceError(former, final, "Rewrite")
	}
	if r.formerIdents == nil {
		r.formerIdents = map[int64]datomic.Keyword{}
	}
	r.formerIdents[src] = former
	return nil
}

// formatNames writes idents of attributes by source id as AttributeNamesAttr
// holds them: one "<source id>=<ident>" value each, sorted.
func formatNames(idents map[int64]datomic.Keyword) []string {
	names := make([]string, 0, len(idents))
	for _, id := range slices.Sorted(maps.Keys(idents)) {
		names = append(names, strconv.FormatInt(id, 10)+"="+string(idents[id]))
	}
	return names
}

// parseNames reads what formatNames wrote.
func parseNames(values []string) (map[int64]datomic.Keyword, error) {
	names := map[int64]datomic.Keyword{}
	for _, v := range values {
		id, kw, ok := strings.Cut(v, "=")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil || kw == "" {
			return nil, fmt.Errorf("%w: malformed %s %q", ErrTargetModified, AttributeNamesAttr, v)
		}
		names[n] = datomic.Keyword(kw)
	}
	return names, nil
}

// namesOps returns the operations that change the recorded names from
// have to want.
func namesOps(marker, attr int64, have, want []string) []datomic.Op {
	var ops []datomic.Op
	for _, v := range have {
		if !slices.Contains(want, v) {
			ops = append(ops, datomic.Retract{E: marker, A: attr, V: v})
		}
	}
	for _, v := range want {
		if !slices.Contains(have, v) {
			ops = append(ops, datomic.Add{E: marker, A: attr, V: v})
		}
	}
	return ops
}

// filter applies the Filter to d, asking it under the attribute's former
// ident too when it was renamed since the target's last restore.
func (r *restorer) filter(d datomic.Datom, oa *opAttr) (bool, error) {
	keep := r.opts.Filter(d, oa.named)
	if oa.former != nil && r.opts.Filter(d, *oa.former) != keep {
		return false, renamedSinceError(oa.former.Ident, oa.named.Ident, "Filter")
	}
	return keep, nil
}

func renamedSinceError(former, final datomic.Keyword, option string) error {
	return fmt.Errorf("%w: attribute %s was %s when this target was last restored, and %s treats it differently under the two idents (the options know an attribute by its ident at the end of the store, which changed): name it by both, or restore into a fresh target",
		ErrRenamedSince, final, former, option)
}

// checkInstalled refuses a transaction that holds a datom of, or about,
// an attribute renamed in the source that the target lacks (a value, or
// its rename), unless it or a transaction before it in this call installs
// the attribute: an earlier call left it out (ElideAttributes under its
// former ident), and the options, naming it by its new one, would not.
func (r *restorer) checkInstalled(seg *Segment, tx datomic.Tx) error {
	for _, d := range tx.Datoms {
		if a, ok := seg.Attrs[d.A]; ok && a.Ident == valueTypeAttr && r.absentRenamed[d.E] != "" {
			r.installed[d.E] = true
		}
	}
	for _, d := range tx.Datoms {
		for _, id := range [2]int64{d.A, d.E} {
			if final := r.absentRenamed[id]; final != "" && !r.installed[id] {
				return fmt.Errorf("%w: attribute %s is not in this target, though installed before its last restore: an earlier call left it out under another ident, and ElideAttributes does not name it %s: name it by both idents, or restore into a fresh target",
					ErrRenamedSince, final, final)
			}
		}
	}
	return nil
}
