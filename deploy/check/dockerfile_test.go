package check

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// finalStage returns the instructions of the last stage of a Dockerfile,
// continuation lines joined, comments dropped, keyed by instruction with
// repeated ones concatenated in order.
func finalStage(t *testing.T, name string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(repoPath("deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var stage map[string]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			stage = map[string]string{}
		}
		rest = strings.Join(strings.Fields(rest), " ")
		if prev, ok := stage[instr]; ok {
			rest = prev + " | " + rest
		}
		stage[instr] = rest
	}
	return stage
}

var labelKey = regexp.MustCompile(`org\.opencontainers\.image\.[a-z]+`)

// TestDockerfilesAgree checks that the conventional multi-stage
// deploy/Dockerfile, which CI cannot build (it pulls base images), ends in
// the same image contract as deploy/Dockerfile.scratch, which CI builds and
// runs: user, entrypoint, command, health check, volume, data dir, port,
// OCI labels and the driver plugins under /usr/lib/rtmanager/plugins (the
// path deploy/kubernetes runs the Kubernetes plugin from).
func TestDockerfilesAgree(t *testing.T) {
	scratch := finalStage(t, "Dockerfile.scratch")
	multi := finalStage(t, "Dockerfile")
	for _, instr := range []string{"USER", "ENTRYPOINT", "CMD", "HEALTHCHECK", "VOLUME", "EXPOSE"} {
		if scratch[instr] == "" || scratch[instr] != multi[instr] {
			t.Errorf("%s: Dockerfile.scratch %q, Dockerfile %q", instr, scratch[instr], multi[instr])
		}
	}
	for _, want := range []string{"RTMANAGER_DATA_DIR=/var/lib/rtmanager", "HOME=/var/lib/rtmanager"} {
		if !strings.Contains(scratch["ENV"], want) || !strings.Contains(multi["ENV"], want) {
			t.Errorf("ENV %s missing: scratch %q, multi-stage %q", want, scratch["ENV"], multi["ENV"])
		}
	}
	keys := func(s string) string {
		k := labelKey.FindAllString(s, -1)
		sort.Strings(k)
		return strings.Join(k, ",")
	}
	for _, want := range []string{"title", "version", "revision", "source"} {
		for name, labels := range map[string]string{"Dockerfile.scratch": keys(scratch["LABEL"]), "Dockerfile": keys(multi["LABEL"])} {
			if !strings.Contains(labels, "org.opencontainers.image."+want) {
				t.Errorf("%s lacks the OCI label %s", name, want)
			}
		}
	}
	for name, copies := range map[string]string{"Dockerfile.scratch": scratch["COPY"], "Dockerfile": multi["COPY"]} {
		if !strings.Contains(copies, " /usr/lib/rtmanager/plugins") {
			t.Errorf("%s does not copy the plugins to /usr/lib/rtmanager/plugins: COPY %s", name, copies)
		}
	}
	if !strings.HasPrefix(multi["USER"], "65532") || !strings.Contains(multi["HEALTHCHECK"], "healthcheck") {
		t.Errorf("Dockerfile: user %q, health check %q", multi["USER"], multi["HEALTHCHECK"])
	}
}
