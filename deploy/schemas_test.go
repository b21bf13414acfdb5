package deploy

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// kubernetesModule is the Kubernetes release whose OpenAPI document
// (api/openapi-spec/swagger.json in the module) the schemas in
// testdata/schemas are generated from.
const kubernetesModule = "k8s.io/kubernetes@v1.34.2"

// schemaKinds are the kinds the manifests use: a manifest of any other kind
// fails validation (no schema) until it is added here and the schemas are
// regenerated.
var schemaKinds = []string{
	"io.k8s.api.apps.v1.Deployment",
	"io.k8s.api.apps.v1.StatefulSet",
	"io.k8s.api.core.v1.ConfigMap",
	"io.k8s.api.core.v1.Secret",
	"io.k8s.api.core.v1.Service",
	"io.k8s.api.policy.v1.PodDisruptionBudget",
	"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
}

var updateSchemas = flag.Bool("update-schemas", false, "regenerate testdata/schemas from "+kubernetesModule+" (downloads the module)")

// TestSchemas_Generate regenerates testdata/schemas with -update-schemas:
// each kind's definition from the Kubernetes OpenAPI document, every $ref
// inlined, objects closed (additionalProperties false, as kubeconform's
// -strict schemas), int-or-string and quantities as string or number, and
// descriptions dropped. Without the flag it checks that every kind has its
// schema.
func TestSchemas_Generate(t *testing.T) {
	if !*updateSchemas {
		for _, def := range schemaKinds {
			if _, err := os.Stat(filepath.Join("testdata", "schemas", schemaFile(def))); err != nil {
				t.Errorf("no schema for %s: %v (go test ./deploy -run Schemas -update-schemas)", def, err)
			}
		}
		return
	}
	out, err := exec.Command("go", "mod", "download", "-json", kubernetesModule).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", kubernetesModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	for _, def := range schemaKinds {
		d, ok := spec.Definitions[def]
		if !ok {
			t.Fatalf("%s: not in the OpenAPI document", def)
		}
		s := inline(t, spec.Definitions, d, 0)
		gvk := d["x-kubernetes-group-version-kind"].([]any)[0].(map[string]any)
		props := s["properties"].(map[string]any)
		apiVersion := gvk["version"].(string)
		if g := gvk["group"].(string); g != "" {
			apiVersion = g + "/" + apiVersion
		}
		props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
		props["kind"] = map[string]any{"type": "string", "enum": []any{gvk["kind"]}}
		s["required"] = []any{"apiVersion", "kind"}
		js, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "schemas", schemaFile(def)), append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// schemaFile is the file kubeconform looks for with the schema location
// testdata/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json:
// deployment-apps-v1.json, service-v1.json.
func schemaFile(def string) string {
	parts := strings.Split(def, ".") // io.k8s.api.GROUP.VERSION.KIND
	kind, version, group := parts[len(parts)-1], parts[len(parts)-2], parts[len(parts)-3]
	name := strings.ToLower(kind)
	if group != "core" {
		name += "-" + group
	}
	return name + "-" + version + ".json"
}

// inline returns schema with every $ref replaced by its definition,
// closed objects and the Kubernetes special formats translated.
func inline(t *testing.T, defs map[string]map[string]any, schema map[string]any, depth int) map[string]any {
	if depth > 40 {
		t.Fatalf("schema nested deeper than 40: a recursive definition?")
	}
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		switch name {
		case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		case "io.k8s.apimachinery.pkg.api.resource.Quantity":
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		}
		d, ok := defs[name]
		if !ok {
			t.Fatalf("$ref %s: no such definition", ref)
		}
		return inline(t, defs, d, depth+1)
	}
	out := map[string]any{}
	keys := make([]string, 0, len(schema))
	for k := range schema {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := schema[k]
		switch {
		case k == "description" || k == "format" || strings.HasPrefix(k, "x-kubernetes-"):
			continue
		case k == "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = inline(t, defs, p.(map[string]any), depth+1)
			}
			out[k] = props
		case k == "items" || k == "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				out[k] = inline(t, defs, m, depth+1)
			} else {
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	if _, ok := out["properties"]; ok {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
	}
	if out["type"] == "object" && len(out) == 1 {
		// A free-form object (e.g. a raw extension): anything goes.
		return out
	}
	return out
}
