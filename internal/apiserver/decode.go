package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"pgo.dev/pgo/internal/pgoapi"
)

// maxBodyBytes limits request bodies.
const maxBodyBytes = 1 << 20

// decode reads a JSON request body into v strictly: one JSON object, no
// unknown fields, values of the right types.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get(pgoapi.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != pgoapi.ContentTypeJSON {
			return newError(http.StatusUnsupportedMediaType, pgoapi.ReasonBadRequest,
				"the body must be JSON: send Content-Type: application/json, not %q", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return badRequest("reading the request body: %v", err)
	}
	if len(body) > maxBodyBytes {
		return newError(http.StatusRequestEntityTooLarge, pgoapi.ReasonBadRequest, "the body is larger than %d bytes", maxBodyBytes)
	}
	return decodeBytes(body, v)
}

// decodeBytes is decode without the HTTP.
func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the body is empty; send a JSON object with the fields %s", fieldList(v))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("the body holds more than one JSON value; send exactly one object")
	}
	return nil
}

func decodeError(err error, v any) *apiError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return badRequest("the body is not valid JSON (at byte %d): %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("the body must be a JSON object with the fields %s, not a JSON %s", fieldList(v), typ.Value)
		}
		return &apiError{code: http.StatusBadRequest, reason: pgoapi.ReasonBadRequest,
			message: fmt.Sprintf("field %s must be %s, not a JSON %s", typ.Field, jsonKind(typ.Type), typ.Value),
			fields:  []pgoapi.FieldError{{Field: typ.Field, Message: "must be " + jsonKind(typ.Type)}}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the body is truncated JSON; send a complete object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &apiError{code: http.StatusBadRequest, reason: pgoapi.ReasonBadRequest,
			message: fmt.Sprintf("unknown field %s; the fields are %s", name, fieldList(v)),
			fields:  []pgoapi.FieldError{{Field: strings.Trim(name, `"`), Message: "unknown field"}}}
	}
	return badRequest("the body is not a valid request: %v", err)
}

// jsonKind names what a Go type looks like in JSON.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(jsonKind(t.Elem()), "a ") + "s"
	}
	return "an object"
}

// fieldList names the JSON fields of v's type.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "(none)"
	}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
