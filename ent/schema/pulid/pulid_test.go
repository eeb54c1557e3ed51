package pulid

import "testing"

func TestUnmarshalGQL(t *testing.T) {
	for _, v := range []any{"usr_01J9Z3", ID("usr_01J9Z3")} {
		var id ID
		if err := id.UnmarshalGQL(v); err != nil || id != "usr_01J9Z3" {
			t.Errorf("UnmarshalGQL(%T) = %q, %v", v, id, err)
		}
	}
	var id ID
	if err := id.UnmarshalGQL(42); err == nil {
		t.Errorf("UnmarshalGQL(42) accepted")
	}
}
