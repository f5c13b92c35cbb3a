package vendorhttp

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzReaderAsTypes: for any JSON value, Reader's String, Int, Bool, Time
// and Strings read what json.Unmarshal into String, Int, Bool, Time and
// Strings reads, and fail where it fails.
func FuzzReaderAsTypes(f *testing.F) {
	for _, v := range []string{
		`"text"`, `"  12 "`, `12`, `-0`, `1e3`, `1.5`, `9007199254740993`, `1e300`, `true`, `false`, `null`, `""`, `"true"`,
		`"T"`, `"1"`, `0`, `2`, `{}`, `[]`, `["a",null,1,true]`, `{"x":"a","y":{"z":1}}`, `{"x":"a","y":"b"}`, `[["a"]]`,
		`"2024-02-29T23:59:59.123+03:30"`, `"2024-02-29 23:59:59Z"`, `"2024-02-29T23:59:59"`, `"yesterday"`, `1700000000`,
		`"\u00e9\ud83d\ude00"`, `"\ud800"`, "\"\xff\xfe\"", `"a\"b\\c"`, ` "padded" `, `[1,]`, `{"a"}`, `"open`,
	} {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // the value's syntax is the surrounding decoder's concern
		}
		check := func(what string, got, want any, err, wantErr error) {
			t.Helper()
			if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s(%q) = %#v, %v; json.Unmarshal: %#v, %v", what, raw, got, err, want, wantErr)
			}
			if _, ok := errors.AsType[*TypeError](err); err != nil && !ok {
				t.Fatalf("%s(%q): %v is not a *TypeError", what, raw, err)
			}
		}
		read := func(f func(r *Reader) (any, error)) (any, error) {
			r := NewReader(raw)
			v, err := f(r)
			if err == nil {
				err = r.End()
			}
			return v, err
		}
		var s String
		wantErr := json.Unmarshal(raw, &s)
		got, err := read(func(r *Reader) (any, error) { return r.String() })
		check("String", got, string(s), err, wantErr)

		var n Int
		wantErr = json.Unmarshal(raw, &n)
		got, err = read(func(r *Reader) (any, error) { return r.Int() })
		check("Int", got, n, err, wantErr)

		var b Bool
		wantErr = json.Unmarshal(raw, &b)
		got, err = read(func(r *Reader) (any, error) { return r.Bool() })
		check("Bool", got, bool(b), err, wantErr)

		var tm Time
		wantErr = json.Unmarshal(raw, &tm)
		got, err = read(func(r *Reader) (any, error) { return r.Time() })
		check("Time", got, time.Time(tm), err, wantErr)

		var ss Strings
		wantErr = json.Unmarshal(raw, &ss)
		got, err = read(func(r *Reader) (any, error) { return r.Strings() })
		check("Strings", got, []string(ss), err, wantErr)
	})
}
