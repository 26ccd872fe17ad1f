package dcs

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"pgo.dev/pgo/internal/naming"
)

// PolicyRules are all a cluster's instance managers may do, in its
// namespace, each on the objects it names: read pods (a list cannot be
// limited by name) and label and annotate the cluster's own; read, watch and
// update the leader Lease and the cluster's ConfigMaps (configuration, sync
// state, switchover requests), which the operator creates, so that the
// managers need no create, which Kubernetes cannot limit by name; read the
// one Secret that holds the roles to keep. pods are the cluster's pod names:
// a new primary takes the primary label off another member's pod.
func PolicyRules(cluster string, pods []string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: pods, Verbs: []string{"patch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
			ResourceNames: []string{naming.LeaderLease(cluster)}, Verbs: []string{"get", "list", "watch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{naming.ConfigMap(cluster), naming.SyncConfigMap(cluster), naming.FailoverConfigMap(cluster)},
			Verbs:         []string{"get", "list", "watch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{naming.UsersSecret(cluster)}, Verbs: []string{"get", "list", "watch"}},
	}
}
