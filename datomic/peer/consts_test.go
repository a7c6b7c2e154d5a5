package peer

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dcbackup/dcbackup/datomic/internal/client"
)

// TestProtocolConstants: the names this package exports are those its
// transport sends.
func TestProtocolConstants(t *testing.T) {
	assert.Equal(t, client.ContentType, ContentType)
	assert.Equal(t, client.HeaderOp, HeaderOp)
	assert.Equal(t, client.HeaderTarget, HeaderTarget)
	assert.Equal(t, client.HeaderNext, HeaderNext)
}
