package resolvers

import (
	"slices"
	"testing"

	"danbao/graph/model"
	"danbao/internal/apperr"
)

// TestErrorCodesMatchSchema keeps internal/apperr and the ErrorCode enum of
// graph/common.graphqls equal: a code missing from the enum would fail to
// marshal as a userError.
func TestErrorCodesMatchSchema(t *testing.T) {
	var inSchema []apperr.Code
	for _, c := range model.AllErrorCode {
		inSchema = append(inSchema, apperr.Code(c))
	}
	if !slices.Equal(apperr.Codes, inSchema) {
		t.Fatalf("apperr.Codes %v\nErrorCode enum %v", apperr.Codes, inSchema)
	}
}
