package escrow

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"danbao/ent"
)

// paymentFields maps each column name to the index of its field in
// ent.Payment (by the json tag ent generates: the column's name).
var paymentFields = func() map[string]int {
	out := map[string]int{}
	t := reflect.TypeFor[ent.Payment]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}()

// applied returns a copy of p with the fields m sets or clears applied: the
// row an UPDATE carrying m leaves behind, as a fresh read would return it
// (JSON fields go through JSON as they do in the database; times are UTC).
// So a transition needs no read after its update. It refuses mutations it
// cannot mirror exactly (counters added to, unknown fields): the caller
// then reads the row again.
func applied(p *ent.Payment, m *ent.PaymentMutation) (*ent.Payment, error) {
	if len(m.AddedFields()) > 0 {
		return nil, fmt.Errorf("escrow: payment update adds to %v", m.AddedFields())
	}
	cp := *p
	v := reflect.ValueOf(&cp).Elem()
	for _, name := range m.ClearedFields() {
		i, ok := paymentFields[name]
		if !ok {
			return nil, fmt.Errorf("escrow: payment field %q", name)
		}
		f := v.Field(i)
		f.Set(reflect.Zero(f.Type()))
	}
	for _, name := range m.Fields() {
		i, ok := paymentFields[name]
		val, set := m.Field(name)
		if !ok || !set {
			return nil, fmt.Errorf("escrow: payment field %q", name)
		}
		f := v.Field(i)
		if t, ok := val.(time.Time); ok {
			val = t.UTC()
		}
		rv := reflect.ValueOf(val)
		switch {
		case f.Kind() == reflect.Map || f.Kind() == reflect.Slice && f.Type().Elem().Kind() != reflect.Uint8:
			// A JSON column: what reading it back gives.
			b, err := json.Marshal(val)
			if err != nil {
				return nil, err
			}
			ptr := reflect.New(f.Type())
			if err := json.Unmarshal(b, ptr.Interface()); err != nil {
				return nil, err
			}
			f.Set(ptr.Elem())
		case rv.Type().AssignableTo(f.Type()):
			f.Set(rv)
		case f.Kind() == reflect.Pointer && rv.Type().AssignableTo(f.Type().Elem()):
			ptr := reflect.New(f.Type().Elem())
			ptr.Elem().Set(rv)
			f.Set(ptr)
		default:
			return nil, fmt.Errorf("escrow: payment field %q: %T", name, val)
		}
	}
	return &cp, nil
}
