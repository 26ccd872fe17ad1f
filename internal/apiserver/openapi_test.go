package apiserver

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

// TestOpenAPIDocument checks that the document is JSON in the OpenAPI 3
// shape, that it has every route with its parameters, bodies and
// permission, and that every $ref resolves.
func TestOpenAPIDocument(t *testing.T) {
	raw, err := json.Marshal(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	checkOpenAPI(t, raw)
}

func checkOpenAPI(t *testing.T, raw []byte) {
	t.Helper()
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title, Version string
		} `json:"info"`
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name, In string
				Required bool
			} `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses  map[string]json.RawMessage `json:"responses"`
			Security   []map[string][]string      `json:"security"`
			Permission string                     `json:"x-pgo-permission"`
		} `json:"paths"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the document does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info.Title == "" || doc.Info.Version == "" {
		t.Errorf("header: %q %+v", doc.OpenAPI, doc.Info)
	}
	if _, ok := doc.Components.SecuritySchemes["basicAuth"]; !ok {
		t.Error("no basicAuth security scheme")
	}
	count := 0
	for _, path := range doc.Paths {
		count += len(path)
	}
	if count != len(pgoapi.Routes) {
		t.Errorf("%d operations in the document, %d routes", count, len(pgoapi.Routes))
	}
	for _, r := range pgoapi.Routes {
		op, ok := doc.Paths[r.Pattern][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("route %s %s is not in the document", r.Method, r.Pattern)
			continue
		}
		if op.OperationID != r.Operation || op.Permission != string(r.Permission) {
			t.Errorf("%s: operationId %q permission %q", r.Operation, op.OperationID, op.Permission)
		}
		for _, p := range pathParams(r.Pattern) {
			found := false
			for _, q := range op.Parameters {
				found = found || (q.Name == p && q.In == "path" && q.Required)
			}
			if !found {
				t.Errorf("%s: path parameter %s is not declared", r.Operation, p)
			}
		}
		if (r.Request != nil) != (op.RequestBody != nil) {
			t.Errorf("%s: request body in the document: %v", r.Operation, op.RequestBody != nil)
		}
		if _, ok := op.Responses[itoa(r.Status)]; !ok {
			t.Errorf("%s: no %d response", r.Operation, r.Status)
		}
		if r.Permission != "" {
			for _, code := range []string{"401", "403"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s: no %s response", r.Operation, code)
				}
			}
			if len(op.Security) != 1 {
				t.Errorf("%s: security %v", r.Operation, op.Security)
			}
		} else if len(op.Security) != 0 {
			t.Errorf("%s needs no authentication, but the document says %v", r.Operation, op.Security)
		}
	}
	for _, m := range regexp.MustCompile(`"\$ref":"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("$ref to %s does not resolve", m[1])
		}
	}
	for _, name := range []string{"CreateClusterRequest", "Cluster", "Workflow", "Error"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
