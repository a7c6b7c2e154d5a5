package edn

import (
	"errors"
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// dbFn reads the map of a #db/fn literal, Datomic Pro's stored function:
// {:lang :clojure|"java" :params [a b] :code "source" :requires [...]
// :imports [...]}. :code may be a string or a form (Clojure functions are
// usually written as forms); a form is kept as its EDN text. :lang and
// :code are required; other keys are errors.
func dbFn(v any) (datomic.Fn, error) {
	m, ok := v.(Map)
	if !ok {
		return datomic.Fn{}, errors.New("value must be a map")
	}
	var f datomic.Fn
	var haveLang, haveCode bool
	for _, e := range m {
		k, ok := e.Key.(datomic.Keyword)
		if !ok {
			return datomic.Fn{}, fmt.Errorf("key %s is not a keyword", describe(e.Key))
		}
		switch k {
		case "lang":
			var name string
			switch l := e.Value.(type) {
			case datomic.Keyword:
				name = string(l)
			case string:
				name = l
			case datomic.Symbol:
				name = string(l)
			}
			if name != "clojure" && name != "java" {
				return datomic.Fn{}, fmt.Errorf(":lang %s is neither clojure nor java", describe(e.Value))
			}
			f.Lang, haveLang = datomic.Keyword(name), true
		case "params":
			items, ok := seqOf(e.Value)
			if !ok {
				return datomic.Fn{}, errors.New(":params must be a vector of symbols")
			}
			f.Params = make([]datomic.Symbol, len(items))
			for i, p := range items {
				s, ok := p.(datomic.Symbol)
				if !ok {
					return datomic.Fn{}, fmt.Errorf(":params element %s is not a symbol", describe(p))
				}
				f.Params[i] = s
			}
		case "code":
			if s, ok := e.Value.(string); ok {
				f.Code = s
			} else {
				text, err := Marshal(e.Value)
				if err != nil {
					return datomic.Fn{}, fmt.Errorf(":code: %w", err)
				}
				f.Code = string(text)
			}
			haveCode = true
		case "requires", "imports":
			if _, ok := seqOf(e.Value); !ok {
				return datomic.Fn{}, fmt.Errorf("%s must be a vector", k)
			}
			text, err := Marshal(e.Value)
			if err != nil {
				return datomic.Fn{}, fmt.Errorf("%s: %w", k, err)
			}
			if k == "requires" {
				f.Requires = string(text)
			} else {
				f.Imports = string(text)
			}
		default:
			return datomic.Fn{}, fmt.Errorf("unknown key %s", k)
		}
	}
	if !haveLang || !haveCode {
		return datomic.Fn{}, errors.New("a function needs :lang and :code")
	}
	return f, nil
}
