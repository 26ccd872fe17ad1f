package dcs

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"pgo.dev/pgo/internal/naming"
)

// PolicyRules are all the instance manager may do, in its cluster's
// namespace: read the cluster's pods and label and annotate its own, hold
// the leader Lease, and keep the cluster's ConfigMaps (configuration, sync
// state, switchover requests).
func PolicyRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
	}
}

// UsersSecretRule lets the instance managers read the one Secret of their
// cluster that holds the roles to keep (verifiers, not passwords).
func UsersSecretRule(cluster string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
		ResourceNames: []string{naming.UsersSecret(cluster)}, Verbs: []string{"get", "list", "watch"}}
}
