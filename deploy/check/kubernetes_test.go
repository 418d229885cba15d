package check

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/galaxy-game/rtmanager/app/config"
)

// object is one Kubernetes manifest, decoded loosely.
type object map[string]any

func (o object) str(path ...string) string {
	s, _ := o.get(path...).(string)
	return s
}

func (o object) get(path ...string) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func (o object) id() string { return o.str("kind") + "/" + o.str("metadata", "name") }

// loadManifests decodes every document of every deploy/kubernetes/*.yaml
// except kustomization.yaml, which it returns apart.
func loadManifests(t *testing.T) (objs []object, kustomization object) {
	t.Helper()
	files, err := filepath.Glob(repoPath("deploy", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var m map[string]any // nested maps decode as map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			if m == nil {
				continue
			}
			o := object(m)
			o["_file"] = filepath.Base(f)
			if o.str("kind") == "Kustomization" {
				kustomization = o
				continue
			}
			objs = append(objs, o)
		}
	}
	return objs, kustomization
}

// TestKubernetesManifests checks deploy/kubernetes structurally (e2e/blackbox
// TestKubernetesDeployManifests applies them to a real cluster): every
// object is well formed, the RBAC is a namespaced Role over pods only, the
// Deployment uses the ServiceAccount, ConfigMap and Secret defined beside
// it, runs non-root with probes on /healthz and /readyz, its environment is
// a configuration app/config accepts, with only keys it knows, and the
// Service's DNS name is an allowed Host.
func TestKubernetesManifests(t *testing.T) {
	objs, kust := loadManifests(t)
	byID := map[string]object{}
	files := map[string]bool{}
	for _, o := range objs {
		files[o.str("_file")] = true
		if o.str("apiVersion") == "" || o.str("kind") == "" || o.str("metadata", "name") == "" {
			t.Errorf("%s: object without apiVersion, kind or metadata.name: %v", o.str("_file"), o)
		}
		if o.str("kind") != "Namespace" && o.str("metadata", "namespace") == "" {
			t.Errorf("%s: no metadata.namespace", o.id())
		}
		if _, dup := byID[o.id()]; dup {
			t.Errorf("%s defined twice", o.id())
		}
		byID[o.id()] = o
		switch o.str("kind") {
		case "ClusterRole", "ClusterRoleBinding":
			t.Errorf("%s: the plugin needs no cluster-wide permission", o.id())
		}
	}
	if kust == nil {
		t.Fatal("no kustomization.yaml")
	}
	var listed []string
	for _, r := range kust.get("resources").([]any) {
		listed = append(listed, r.(string))
	}
	sort.Strings(listed)
	var present []string
	for f := range files {
		present = append(present, f)
	}
	sort.Strings(present)
	if strings.Join(listed, ",") != strings.Join(present, ",") {
		t.Errorf("kustomization resources %v, files %v", listed, present)
	}

	// RBAC: pods (and their logs) in the games namespace, nothing else.
	role := byID["Role/rtmanager-engines"]
	if role == nil {
		t.Fatal("no Role rtmanager-engines")
	}
	for _, r := range role.get("rules").([]any) {
		rule := object(r.(map[string]any))
		for _, res := range rule.get("resources").([]any) {
			if res != "pods" && res != "pods/log" {
				t.Errorf("Role grants %v; want pods and pods/log only", res)
			}
		}
		for _, g := range rule.get("apiGroups").([]any) {
			if g != "" {
				t.Errorf("Role grants API group %q; want the core group only", g)
			}
		}
		for _, v := range rule.get("verbs").([]any) {
			if v == "*" {
				t.Error("Role grants every verb")
			}
		}
	}
	binding := byID["RoleBinding/rtmanager-engines"]
	if binding == nil || binding.str("roleRef", "name") != "rtmanager-engines" ||
		binding.str("metadata", "namespace") != role.str("metadata", "namespace") {
		t.Fatalf("RoleBinding does not bind the Role in its namespace: %v", binding)
	}
	subject := object(binding.get("subjects").([]any)[0].(map[string]any))

	dep := byID["Deployment/rtmanager"]
	if dep == nil {
		t.Fatal("no Deployment rtmanager")
	}
	spec := object(dep.get("spec", "template", "spec").(map[string]any))
	if sa := spec.str("serviceAccountName"); sa != subject.str("name") || byID["ServiceAccount/"+sa] == nil ||
		subject.str("namespace") != dep.str("metadata", "namespace") {
		t.Errorf("Deployment runs as ServiceAccount %q; the RoleBinding names %v", sa, subject)
	}
	if spec.get("securityContext", "runAsNonRoot") != true {
		t.Error("Deployment does not set runAsNonRoot")
	}
	containers := spec.get("containers").([]any)
	c := object(containers[0].(map[string]any))
	if c.str("livenessProbe", "httpGet", "path") != "/healthz" || c.str("readinessProbe", "httpGet", "path") != "/readyz" {
		t.Error("want a liveness probe on /healthz and a readiness probe on /readyz")
	}

	// The environment: ConfigMap and Secret named by envFrom, plus env.
	env := map[string]string{}
	for _, ef := range c.get("envFrom").([]any) {
		ref := object(ef.(map[string]any))
		kind, field, name := "ConfigMap", "data", ref.str("configMapRef", "name")
		if name == "" {
			kind, field, name = "Secret", "stringData", ref.str("secretRef", "name")
		}
		src := byID[kind+"/"+name]
		if src == nil {
			t.Fatalf("envFrom names %s %q, which is not defined", kind, name)
		}
		for k, v := range src.get(field).(map[string]any) {
			env[k] = v.(string)
		}
	}
	for _, e := range c.get("env").([]any) {
		ev := object(e.(map[string]any))
		env[ev.str("name")] = "from-" + ev.str("valueFrom", "fieldRef", "fieldPath")
	}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Env()] = true
	}
	for k := range env {
		if !known[k] {
			t.Errorf("environment variable %s is not a configuration key of app/config", k)
		}
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		t.Fatalf("app/config rejects the manifests' environment: %v", err)
	}
	if svc := byID["Service/rtmanager"]; svc == nil {
		t.Error("no Service rtmanager")
	} else if name := "rtmanager." + svc.str("metadata", "namespace") + ".svc"; !strings.Contains(","+env["RTMANAGER_ALLOWED_HOSTS"]+",", ","+name+",") {
		t.Errorf("RTMANAGER_ALLOWED_HOSTS %q lacks the Service's name %s: clients calling it get 403", env["RTMANAGER_ALLOWED_HOSTS"], name)
	}
	if cfg.Driver != "plugin" {
		t.Errorf("driver = %q, want plugin", cfg.Driver)
	}
	port := strings.TrimPrefix(cfg.HTTPAddr, "0.0.0.0:")
	if cport := object(c.get("ports").([]any)[0].(map[string]any)); cport.get("containerPort") != mustAtoi(t, port) {
		t.Errorf("containerPort %v, RTMANAGER_HTTP_ADDR %s", cport.get("containerPort"), cfg.HTTPAddr)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("port %q is not a number", s)
		}
		n = n*10 + int(r-'0')
	}
	return n
}
