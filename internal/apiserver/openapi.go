package apiserver

import (
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/version"
)

// OpenAPI builds the OpenAPI 3 document of the API from pgoapi.Routes and
// the Go types of its bodies.
func OpenAPI() map[string]any {
	g := &schemaGen{schemas: map[string]any{}}
	errRef := g.ref(reflect.TypeFor[pgoapi.Error]())
	paths := map[string]any{}
	for _, route := range pgoapi.Routes {
		item, _ := paths[route.Pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[route.Pattern] = item
		}
		op := map[string]any{
			"operationId": route.Operation,
			"summary":     route.Summary,
		}
		var params []any
		for _, name := range pathParams(route.Pattern) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, name := range route.Query {
			params = append(params, map[string]any{"name": name, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if route.Request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{pgoapi.ContentTypeJSON: map[string]any{"schema": g.ref(reflect.TypeOf(route.Request))}},
			}
		}
		responses := map[string]any{}
		success := map[string]any{"description": http.StatusText(route.Status)}
		switch {
		case route.Response != nil:
			success["content"] = map[string]any{pgoapi.ContentTypeJSON: map[string]any{"schema": g.ref(reflect.TypeOf(route.Response))}}
		case route.Operation == "Healthz":
			success["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		case route.Operation == "OpenAPI":
			success["content"] = map[string]any{pgoapi.ContentTypeJSON: map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		responses[strconv.Itoa(route.Status)] = success
		errBody := func(desc string) map[string]any {
			return map[string]any{"description": desc, "content": map[string]any{pgoapi.ContentTypeJSON: map[string]any{"schema": errRef}}}
		}
		if route.Permission != "" {
			op["security"] = []any{map[string]any{"basicAuth": []any{}}}
			op["x-pgo-permission"] = string(route.Permission)
			responses["401"] = errBody("missing or wrong credentials")
			responses["429"] = errBody("too many failed logins for the pgo user from this address, or from this address: not checked; the Retry-After header says in how many seconds to try again")
			responses["403"] = errBody("the pgo user lacks the permission " + string(route.Permission) + " or may not access the namespace")
			responses["400"] = errBody("a malformed request")
			responses["404"] = errBody("not found")
			if route.Request != nil {
				responses["422"] = errBody("an invalid request: the fields say what to change")
			}
			responses["409"] = errBody("conflicts with the current state")
			responses["500"] = errBody("internal error")
		} else {
			op["security"] = []any{}
		}
		op["responses"] = responses
		item[strings.ToLower(route.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "pgo apiserver",
			"version":     version.Version,
			"description": "Manage highly available PostgreSQL clusters on Kubernetes. Every call but /healthz and this document needs HTTP Basic authentication as a pgo user.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         g.schemas,
			"securitySchemes": map[string]any{"basicAuth": map[string]any{"type": "http", "scheme": "basic"}},
		},
	}
}

var pathParamRE = regexp.MustCompile(`\{([a-z]+)\}`)

func pathParams(pattern string) []string {
	var out []string
	for _, m := range pathParamRE.FindAllStringSubmatch(pattern, -1) {
		out = append(out, m[1])
	}
	return out
}

// schemaGen turns Go types into OpenAPI schemas, named structs into
// components.
type schemaGen struct {
	schemas map[string]any
}

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return g.schema(t)
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.object(t)
		}
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = map[string]any{} // a placeholder against recursion
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []any
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
