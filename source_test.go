package dcbackup

import (
	"testing"

	"github.com/dcbackup/dcbackup/datomic"
	"github.com/stretchr/testify/assert"
)

func TestBuiltinIdent(t *testing.T) {
	for _, kw := range []datomic.Keyword{"db/ident", "db/txInstant", "db.type/ref", "db.cardinality/many",
		"db.unique/identity", "db.install/attribute", "db.alter/attribute", "db.part/db", "db.part/tx",
		"db.part/user", "fressian/tag", "db.excise/attrs"} {
		assert.True(t, builtinIdent(kw), kw)
	}
	for _, kw := range []datomic.Keyword{"artist/name", "db.part/people", "dbx/attr", "fressian/other",
		"dcbackup/original-id", "ident", "database/name"} {
		assert.False(t, builtinIdent(kw), kw)
	}
}
