package deploy

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxImageSize is the size goal of the image.
const maxImageSize = 30 << 20

// containerEngine returns docker or podman when one is installed and its
// daemon answers, else "".
func containerEngine() string {
	for _, name := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(name); err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := exec.CommandContext(ctx, name, "info").Run()
		cancel()
		if err == nil {
			return name
		}
	}
	return ""
}

// TestImage_Build builds the Dockerfile where a container engine runs,
// records the image size (at most maxImageSize), and runs `flowcache
// version` and `flowcache config` in it: the image's own configuration
// must load, with data_dir at /var/lib/flowcache.
func TestImage_Build(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	engine := containerEngine()
	if engine == "" {
		t.Skip("no container engine (docker or podman with a running daemon)")
	}
	const tag = "flowcache:test"
	if out, err := exec.Command(engine, "build", "-t", tag, "..").CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", engine, err, out)
	}
	out, err := exec.Command(engine, "image", "inspect", "--format", "{{.Size}}", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s: %.1f MiB", tag, float64(size)/(1<<20))
	if size > maxImageSize {
		t.Errorf("image is %d bytes, over the goal of %d", size, maxImageSize)
	}
	out, err = exec.Command(engine, "run", "--rm", tag, "config", "-config", "/etc/flowcache/config.toml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `data_dir = "/var/lib/flowcache"`) {
		t.Errorf("flowcache config in the image = %v:\n%s", err, out)
	}
}
