package node

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// lookups reads the Secrets and ConfigMaps a pod refers to.
type lookups interface {
	secret(namespace, name string) (*corev1.Secret, error)
	configMap(namespace, name string) (*corev1.ConfigMap, error)
}

// containerEnv is a container's environment as a kubelet gives it: the
// Kubernetes service variables, envFrom, then env with $(VAR) references to
// earlier variables expanded.
func containerEnv(pod *corev1.Pod, c *corev1.Container, podIP, hostIP string, apiHost, apiPort string, l lookups) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	set("PATH", defaultPath)
	set("HOSTNAME", podHostname(pod))
	if apiHost != "" {
		set("KUBERNETES_SERVICE_HOST", apiHost)
		set("KUBERNETES_SERVICE_PORT", apiPort)
		set("KUBERNETES_SERVICE_PORT_HTTPS", apiPort)
		set("KUBERNETES_PORT", "tcp://"+apiHost+":"+apiPort)
		set("KUBERNETES_PORT_443_TCP", "tcp://"+apiHost+":"+apiPort)
		set("KUBERNETES_PORT_443_TCP_PROTO", "tcp")
		set("KUBERNETES_PORT_443_TCP_ADDR", apiHost)
		set("KUBERNETES_PORT_443_TCP_PORT", apiPort)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := l.configMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom ConfigMap %s: %w", from.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := l.secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if optional(from.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom Secret %s: %w", from.SecretRef.Name, err)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, ok, err := envValueFrom(pod, c, e.ValueFrom, podIP, hostIP, l)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

func optional(b *bool) bool { return b != nil && *b }

func envValueFrom(pod *corev1.Pod, c *corev1.Container, from *corev1.EnvVarSource, podIP, hostIP string, l lookups) (string, bool, error) {
	switch {
	case from.FieldRef != nil:
		v, err := fieldValue(pod, from.FieldRef.FieldPath, podIP, hostIP)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := resourceValue(c, from.ResourceFieldRef)
		return v, err == nil, err
	case from.SecretKeyRef != nil:
		s, err := l.secret(pod.Namespace, from.SecretKeyRef.Name)
		if err != nil {
			if optional(from.SecretKeyRef.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s: %w", from.SecretKeyRef.Name, err)
		}
		v, ok := s.Data[from.SecretKeyRef.Key]
		if !ok && !optional(from.SecretKeyRef.Optional) {
			return "", false, fmt.Errorf("secret %s has no key %s", from.SecretKeyRef.Name, from.SecretKeyRef.Key)
		}
		return string(v), ok, nil
	case from.ConfigMapKeyRef != nil:
		cm, err := l.configMap(pod.Namespace, from.ConfigMapKeyRef.Name)
		if err != nil {
			if optional(from.ConfigMapKeyRef.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("config map %s: %w", from.ConfigMapKeyRef.Name, err)
		}
		v, ok := cm.Data[from.ConfigMapKeyRef.Key]
		if !ok && !optional(from.ConfigMapKeyRef.Optional) {
			return "", false, fmt.Errorf("config map %s has no key %s", from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key)
		}
		return v, ok, nil
	}
	return "", false, nil
}

// fieldValue is the downward API's value of a pod field.
func fieldValue(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript parses `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	return strings.Trim(strings.TrimSuffix(rest, "]"), `'"`), true
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// resourceValue is the downward API's value of a container resource, in the
// divisor's units, rounded up.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	var q resource.Quantity
	var ok bool
	switch {
	case strings.HasPrefix(ref.Resource, "limits."):
		q, ok = c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))]
	case strings.HasPrefix(ref.Resource, "requests."):
		q, ok = c.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "requests."))]
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if !ok {
		return "0", nil
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	v := (q.MilliValue() + divisor.MilliValue() - 1) / divisor.MilliValue()
	return strconv.FormatInt(v, 10), nil
}

// expand replaces $(VAR) with earlier variables; $$ escapes, unknown
// references stay as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte('$')
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// podHostname is the pod's hostname: spec.hostname or its name.
func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}
