package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconform is the validator, pinned, run with go run (no install, no
// entry in go.mod).
const kubeconform = "github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0"

// schemaLocation makes kubeconform read the vendored schemas only: with no
// "default" location it downloads nothing, and a kind without a schema is
// an error.
const schemaLocation = "testdata/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json"

func runKubeconform(t *testing.T, args ...string) (string, error) {
	t.Helper()
	args = append([]string{"run", kubeconform, "-strict", "-summary", "-schema-location", schemaLocation}, args...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKubernetes_Kubeconform: every manifest in kubernetes/ is valid for
// Kubernetes 1.34 (strict: no unknown field), offline.
func TestKubernetes_Kubeconform(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kubeconform")
	}
	t.Parallel()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	out, err := runKubeconform(t, files...)
	if err != nil {
		t.Fatalf("kubeconform: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Invalid: 0, Errors: 0, Skipped: 0") {
		t.Errorf("kubeconform summary:\n%s", out)
	}
	t.Logf("kubeconform: %s", strings.TrimSpace(out))
}

// TestKubernetes_KubeconformRefuses: the same run refuses a misspelt field,
// a wrong type and a kind it has no schema for, so a clean run above means
// something.
func TestKubernetes_KubeconformRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kubeconform")
	}
	t.Parallel()
	pdb, err := os.ReadFile("kubernetes/pdb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hpa, err := os.ReadFile("kubernetes/hpa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, src, want string }{
		{"unknown_field", strings.Replace(string(pdb), "maxUnavailable:", "maxUnavaliable:", 1), "additional properties 'maxUnavaliable' not allowed"},
		{"wrong_type", strings.Replace(string(hpa), "minReplicas: 3", "minReplicas: three", 1), "at '/spec/minReplicas': got string, want integer"},
		{"no_schema", "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x\n", "could not find schema for CronJob"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tt.name+".yaml")
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := runKubeconform(t, path); err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("kubeconform on %s = %v, want a failure with %q:\n%s", tt.name, err, tt.want, out)
			}
		})
	}
}
