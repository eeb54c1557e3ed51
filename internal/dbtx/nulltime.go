package dbtx

import (
	"fmt"
	"time"
)

// NullTime scans a timestamp that may be NULL, as the drivers return it:
// a time.Time (PostgreSQL; SQLite for a column it knows the type of) or
// the text SQLite stores.
type NullTime struct {
	t     time.Time
	valid bool
}

// sqliteTimeLayouts are the layouts SQLite text timestamps come in (the
// driver's "sqlite" write format first).
var sqliteTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
}

// Scan implements sql.Scanner.
func (n *NullTime) Scan(v any) error {
	var s string
	switch v := v.(type) {
	case nil:
		n.valid = false
		return nil
	case time.Time:
		n.t, n.valid = v, true
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("dbtx: cannot scan %T as a time", v)
	}
	for _, layout := range sqliteTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			n.t, n.valid = t, true
			return nil
		}
	}
	return fmt.Errorf("dbtx: cannot parse time %q", s)
}

// Ptr is the time, or nil for NULL.
func (n NullTime) Ptr() *time.Time {
	if !n.valid {
		return nil
	}
	t := n.t
	return &t
}
