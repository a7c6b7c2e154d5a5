package datomic

import (
	"strings"
)

// Fn is a :db.type/fn value: a function stored in the database, Datomic
// Pro's #db/fn literal (transaction functions installed as data). Only
// Datomic Pro has it; a replay cannot run it on another product, and on
// Datomic Pro the target's transactor would run it.
type Fn struct {
	// Lang is the function's language, :clojure or :java.
	Lang Keyword
	// Params are the parameter names.
	Params []Symbol
	// Code is the function body as source text.
	Code string
	// Requires and Imports are the EDN text of the literal's :requires and
	// :imports vectors ("" when absent).
	Requires, Imports string
}

// String formats f as the EDN #db/fn literal.
func (f Fn) String() string {
	var b strings.Builder
	b.WriteString("#db/fn {:lang ")
	b.WriteString(f.Lang.String())
	b.WriteString(" :params [")
	for i, p := range f.Params {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(p))
	}
	b.WriteString("] :code ")
	b.WriteString(FormatValue(f.Code))
	if f.Requires != "" {
		b.WriteString(" :requires ")
		b.WriteString(f.Requires)
	}
	if f.Imports != "" {
		b.WriteString(" :imports ")
		b.WriteString(f.Imports)
	}
	b.WriteByte('}')
	return b.String()
}

// Equal reports whether f and o are the same function.
func (f Fn) Equal(o Fn) bool {
	if f.Lang != o.Lang || f.Code != o.Code || f.Requires != o.Requires || f.Imports != o.Imports || len(f.Params) != len(o.Params) {
		return false
	}
	for i := range f.Params {
		if f.Params[i] != o.Params[i] {
			return false
		}
	}
	return true
}
