package rules

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	pgov1 "pgo.dev/pgo/api/v1"
)

// The values a choice may take; empty leaves the default.
var (
	PasswordTypes        = []string{string(pgov1.PasswordSCRAM), string(pgov1.PasswordMD5)}
	NodeAffinityTypes    = []string{string(pgov1.NodeAffinityPreferred), string(pgov1.NodeAffinityRequired)}
	PodAntiAffinityTypes = []string{string(pgov1.PodAntiAffinityPreferred), string(pgov1.PodAntiAffinityRequired), string(pgov1.PodAntiAffinityDisabled)}
	ServiceTypes         = []string{string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeNodePort), string(corev1.ServiceTypeLoadBalancer)}
	S3URIStyles          = []string{string(pgov1.URIStyleHost), string(pgov1.URIStylePath)}
)

// OneOf checks that value is one of allowed (case-sensitive); empty is
// fine: it leaves the default.
func OneOf(value string, allowed []string) string {
	if value == "" || slices.Contains(allowed, value) {
		return ""
	}
	return "is not one of " + strings.Join(allowed, ", ")
}
