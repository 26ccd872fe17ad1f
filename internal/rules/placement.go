package rules

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
)

// Where a cluster's instances run: node labels and tolerations.

// NodeLabel reads key=value, the node label instances are placed by.
func NodeLabel(s string) (key, value, why string) {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return "", "", "is not key=value, such as topology.kubernetes.io/zone=zone-a"
	}
	if msgs := content.IsLabelKey(key); len(msgs) > 0 {
		return "", "", fmt.Sprintf("is invalid: key %q is not a label key: %s", key, strings.Join(msgs, "; "))
	}
	if msgs := content.IsLabelValue(value); len(msgs) > 0 {
		return "", "", fmt.Sprintf("is invalid: value %q is not a label value: %s", value, strings.Join(msgs, "; "))
	}
	return key, value, ""
}

// TolerationEffects are the effects a toleration may name.
var TolerationEffects = []string{
	string(corev1.TaintEffectNoSchedule),
	string(corev1.TaintEffectPreferNoSchedule),
	string(corev1.TaintEffectNoExecute),
}

// Toleration reads a toleration as pgo's --toleration writes it:
// "key=value:Effect" tolerates a taint with that value, "key:Effect" any
// taint with that key.
func Toleration(s string) (corev1.Toleration, string) {
	var t corev1.Toleration
	rule, effect, ok := strings.Cut(s, ":")
	key, value, hasValue := strings.Cut(rule, "=")
	if !ok || key == "" {
		return t, "is not key=value:Effect or key:Effect, such as zone=east:NoSchedule"
	}
	if !slices.Contains(TolerationEffects, effect) {
		return t, fmt.Sprintf("is invalid: effect %q is not one of %s", effect, strings.Join(TolerationEffects, ", "))
	}
	if msgs := content.IsLabelKey(key); len(msgs) > 0 {
		return t, fmt.Sprintf("is invalid: key %q is not a label key: %s", key, strings.Join(msgs, "; "))
	}
	t.Key, t.Effect, t.Operator = key, corev1.TaintEffect(effect), corev1.TolerationOpExists
	if hasValue {
		if msgs := content.IsLabelValue(value); len(msgs) > 0 {
			return corev1.Toleration{}, fmt.Sprintf("is invalid: value %q is not a label value: %s", value, strings.Join(msgs, "; "))
		}
		t.Operator, t.Value = corev1.TolerationOpEqual, value
	}
	return t, ""
}
