package mem

import (
	"fmt"

	"github.com/dcbackup/dcbackup/datomic"
)

// txErr returns an error of the kind of sentinel for operation op.
func txErr(sentinel *datomic.Error, op int, format string, args ...any) *datomic.Error {
	return &datomic.Error{
		Category: sentinel.Category,
		Code:     sentinel.Code,
		Message:  fmt.Sprintf(format, args...),
		Op:       op,
	}
}

// fmtDatom formats a datom of a transaction for an error message.
func fmtDatom(kind string, e, a, v any) string {
	return fmt.Sprintf("[%s %s %s %s]", kind, fmtPos(e), fmtPos(a), fmtPos(v))
}

func fmtPos(x any) string {
	switch v := x.(type) {
	case datomic.TempID:
		return fmt.Sprintf("%q", string(v))
	case datomic.LookupRef:
		return fmt.Sprintf("[%s %s]", fmtPos(v.A), fmtPos(v.V))
	case datomic.EntityMap:
		return "{...}"
	}
	return datomic.FormatValue(x)
}

// kindName names a statement kind as its list form.
func kindName(kind uint8) string {
	if kind == kAdd {
		return "db/add"
	}
	return "db/retract"
}
