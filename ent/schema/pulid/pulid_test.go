package pulid

import "testing"

func TestUnmarshalGQL(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    ID
		wantErr bool
	}{
		{"string literal", "usr_01J9Z3", "usr_01J9Z3", false},
		{"variable, already an ID", ID("psk_01J9Z3"), "psk_01J9Z3", false},
		{"number", 42, "", true},
		{"nil", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id ID
			err := id.UnmarshalGQL(tt.in)
			if (err != nil) != tt.wantErr || id != tt.want {
				t.Fatalf("UnmarshalGQL(%#v) = %q, %v; want %q, error %v", tt.in, id, err, tt.want, tt.wantErr)
			}
		})
	}
}
