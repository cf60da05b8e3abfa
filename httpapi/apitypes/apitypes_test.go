package apitypes

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMapOrderedAnswers: the answers the server once wrote as maps keep
// their fields in the alphabetical order of their JSON names, the order
// encoding/json writes a map in, so their bytes do not change.
func TestMapOrderedAnswers(t *testing.T) {
	for _, v := range []any{SessionReply{}, OpenSessionReply{}, LockState{}, LockHolder{}, LockWaiter{},
		EnqueueReply{}, AckReply{}, NackReply{}, CachePutReply{}, CacheDeleteReply{}, Health{},
		Status{}, LockStatus{}, QueueStatus{}, QueueStat{}, CacheStatus{}} {
		typ := reflect.TypeOf(v)
		var names []string
		for i := range typ.NumField() {
			names = append(names, strings.Split(typ.Field(i).Tag.Get("json"), ",")[0])
		}
		assert.True(t, slices.IsSorted(names), "%s: fields %v are not in alphabetical order", typ.Name(), names)
	}
}

func TestDecimal(t *testing.T) {
	const big = Decimal(1<<63 + 5)
	b, err := json.Marshal(big)
	require.NoError(t, err)
	assert.Equal(t, `"9223372036854775813"`, string(b))
	var d Decimal
	require.NoError(t, json.Unmarshal(b, &d))
	assert.Equal(t, big, d)
	require.NoError(t, json.Unmarshal([]byte("42"), &d), "a bare number is accepted")
	assert.Equal(t, Decimal(42), d)
	var r ReceiptRequest
	err = json.Unmarshal([]byte(`{"queue":"q","receipt":"x"}`), &r)
	var typeErr *json.UnmarshalTypeError
	require.ErrorAs(t, err, &typeErr)
	assert.Equal(t, "receipt", typeErr.Field)
	p, err := ParseDecimal(big.String())
	require.NoError(t, err)
	assert.Equal(t, big, p)
	assert.Equal(t, "1m30s", *Duration(90 * time.Second))
}
