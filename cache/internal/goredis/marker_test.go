package goredis_test

import (
	"testing"

	"github.com/ramadani/andromeda/cache/internal/goredis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkerRecordsTheWrite(t *testing.T) {
	m := goredis.NewMarker("sha")
	assert.False(t, m.Written())
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, "sha", string(b))
	assert.True(t, m.Written())
}
