package specs

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/postgres"
)

func meta(c *pgov1.PGCluster, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: labels(c, ClusterLabels(c.Name)), Annotations: annotations(c)}
}

// Services are the primary Service "<cluster>", the replica Service
// "<cluster>-replica" (both select by the role label the instance managers
// keep) and the headless Service of the instances' StatefulSets.
func Services(c *pgov1.PGCluster) []*corev1.Service {
	port := []corev1.ServicePort{{Name: "postgres", Port: c.Spec.Port, TargetPort: intstr.FromString("postgres"), Protocol: corev1.ProtocolTCP}}
	typ := c.Spec.ServiceType
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	role := func(name, role string) *corev1.Service {
		return &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(c, name),
			Spec: corev1.ServiceSpec{
				Type:     typ,
				Selector: map[string]string{naming.LabelCluster: c.Name, naming.LabelRole: role},
				Ports:    port,
			},
		}
	}
	pods := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(c, naming.PodsService(c.Name)),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 ClusterLabels(c.Name),
			PublishNotReadyAddresses: true,
			Ports:                    port,
		},
	}
	return []*corev1.Service{
		role(naming.PrimaryService(c.Name), naming.RolePrimary),
		role(naming.ReplicaService(c.Name), naming.RoleReplica),
		pods,
	}
}

// DynamicConfig is the HA configuration the instance managers follow.
func DynamicConfig(c *pgov1.PGCluster) dcs.DynamicConfig {
	ha := c.Spec.HA
	var dc dcs.DynamicConfig
	dc.TTL, dc.LoopWait, dc.RetryTimeout = int(ha.TTL), int(ha.LoopWait), int(ha.RetryTimeout)
	dc.MaximumLagOnFailover = ha.MaximumLagOnFailover
	dc.SynchronousMode, dc.SynchronousModeStrict = ha.SynchronousMode, ha.SynchronousModeStrict
	dc.Pause = ha.Enabled != nil && !*ha.Enabled
	if cfg := c.Spec.Config; cfg != nil {
		for k, v := range cfg.Parameters {
			if dc.PostgreSQL.Parameters == nil {
				dc.PostgreSQL.Parameters = map[string]string{}
			}
			dc.PostgreSQL.Parameters[k] = string(v)
		}
		dc.PostgreSQL.PgHBA = cfg.PgHBA
	}
	dc.PostgreSQL.TLSOnly = c.Spec.TLS != nil && c.Spec.TLS.TLSOnly
	if usesMD5(c) {
		dc.PostgreSQL.PasswordMethod = postgres.PasswordMD5
	}
	return dc
}

// usesMD5 reports whether a user of the cluster has an md5 password.
func usesMD5(c *pgov1.PGCluster) bool {
	if c.Spec.PasswordType == pgov1.PasswordMD5 {
		return true
	}
	for _, u := range c.Spec.Users {
		if u.PasswordType == pgov1.PasswordMD5 {
			return true
		}
	}
	return false
}

// ConfigMap is "<cluster>-config" with the dynamic configuration; its
// "initialize" key belongs to the instance managers.
func ConfigMap(c *pgov1.PGCluster) (*corev1.ConfigMap, error) {
	raw, err := json.Marshal(DynamicConfig(c))
	if err != nil {
		return nil, fmt.Errorf("rendering the dynamic configuration: %w", err)
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(c, naming.ConfigMap(c.Name)),
		Data:       map[string]string{naming.KeyConfig: string(raw)},
	}, nil
}

// InstanceRBAC is the instance managers' ServiceAccount, and the Role and
// RoleBinding that give it what the managers need in the namespace, on the
// cluster's objects by name; pods are the cluster's pod names.
func InstanceRBAC(c *pgov1.PGCluster, pods []string) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	name := naming.InstanceServiceAccount(c.Name)
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(c, name)}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(c, name),
		Rules:      dcs.PolicyRules(c.Name, slices.Sorted(slices.Values(pods))),
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(c, name),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: c.Namespace}},
	}
	return sa, role, binding
}

// InstancePods are the pod names of instances.
func InstancePods(instances []Instance) []string {
	pods := make([]string, 0, len(instances))
	for _, inst := range instances {
		pods = append(pods, naming.PodOfInstance(inst.Name))
	}
	return pods
}

// DCSObjects are the leader Lease and the sync and switchover ConfigMaps,
// empty: the operator creates them (once; it never writes them again) so
// that the instance managers' Role can name them and leave out create.
func DCSObjects(c *pgov1.PGCluster) (*coordinationv1.Lease, []*corev1.ConfigMap) {
	lease := &coordinationv1.Lease{
		TypeMeta:   metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
		ObjectMeta: meta(c, naming.LeaderLease(c.Name)),
	}
	var cms []*corev1.ConfigMap
	for _, name := range []string{naming.SyncConfigMap(c.Name), naming.FailoverConfigMap(c.Name)} {
		cms = append(cms, &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(c, name)})
	}
	return lease, cms
}

func secret(c *pgov1.PGCluster, name string, typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta(c, name),
		Type:       typ,
		Data:       data,
	}
}

// UserSecret holds a PostgreSQL user's password. For the superuser and the
// replication user, database is empty.
func UserSecret(c *pgov1.PGCluster, name, user, password, database string) *corev1.Secret {
	data := map[string][]byte{naming.KeyUsername: []byte(user), naming.KeyPassword: []byte(password)}
	if database != "" {
		host := fmt.Sprintf("%s.%s.svc", naming.PrimaryService(c.Name), c.Namespace)
		port := strconv.Itoa(int(c.Spec.Port))
		data[naming.KeyDatabase] = []byte(database)
		data[naming.KeyHost] = []byte(host)
		data[naming.KeyPort] = []byte(port)
		u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: host + ":" + port, Path: "/" + database}
		data[naming.KeyURI] = []byte(u.String())
	}
	return secret(c, name, corev1.SecretTypeOpaque, data)
}

// SuperuserSecret and APISecret hold the passwords of the postgres
// superuser and of the instance managers' REST API.
func SuperuserSecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.SuperuserSecret(c.Name), postgres.SuperUser, password, "")
}

func APISecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.APISecret(c.Name), "pgo", password, "")
}

// AppUserSecret holds the application user's password and how to connect.
func AppUserSecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.UserSecret(c.Name, string(c.Spec.User)), string(c.Spec.User), password, Database(c))
}

// Certificate is a certificate the operator keeps for a cluster, and the
// Secret that holds it.
type Certificate struct {
	Secret string
	Leaf   pki.Leaf
}

// Certificates are a cluster's certificates, issued by its own CA and each
// naming the cluster: the server certificate (which members present to
// each other, and PostgreSQL to clients unless the user gave one) and the
// replication user's client certificate.
func Certificates(c *pgov1.PGCluster, lifetime time.Duration) []Certificate {
	unit := c.Namespace + "/" + c.Name
	return []Certificate{
		{naming.ServerCertSecret(c.Name), pki.Leaf{CommonName: c.Name, Unit: unit, Names: ServerNames(c), Server: true, Lifetime: lifetime}},
		{naming.ReplicationCertSecret(c.Name), pki.Leaf{CommonName: postgres.ReplicationUser, Unit: unit, Lifetime: lifetime}},
		// pgBackRest's, server and client of every pod's TLS server: the
		// only name those servers let in.
		{naming.BackRestCertSecret(c.Name), pki.Leaf{CommonName: naming.BackRestClientName(c.Name), Unit: unit, Names: podNames(c), Server: true, Lifetime: lifetime}},
	}
}

// ClusterCAName is the common name of a cluster's CA.
func ClusterCAName(c *pgov1.PGCluster) string { return "pgo cluster CA " + c.Namespace + "/" + c.Name }

// ClusterCASecret holds a cluster's own CA.
func ClusterCASecret(c *pgov1.PGCluster, cert, key []byte) *corev1.Secret {
	return secret(c, naming.ClusterCASecret(c.Name), corev1.SecretTypeOpaque, map[string][]byte{naming.KeyCACert: cert, naming.KeyCAKey: key})
}

// TLSSecret holds a certificate, its key and the CA that issued it.
func TLSSecret(c *pgov1.PGCluster, name string, cert, key, ca []byte) *corev1.Secret {
	return secret(c, name, corev1.SecretTypeTLS, map[string][]byte{
		corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key, naming.KeyCACert: ca,
	})
}

// ServerNames are the DNS names of a cluster's server certificate.
func ServerNames(c *pgov1.PGCluster) []string {
	var names []string
	for _, svc := range []string{naming.PrimaryService(c.Name), naming.ReplicaService(c.Name)} {
		names = append(names, svc, svc+"."+c.Namespace, svc+"."+c.Namespace+".svc", svc+"."+c.Namespace+".svc.cluster.local")
	}
	return append(names, podNames(c)...)
}

// podNames name every pod of a cluster under its headless Service.
func podNames(c *pgov1.PGCluster) []string {
	pods := naming.PodsDomain(c.Name, c.Namespace)
	return []string{"*." + pods, "*." + pods + ".cluster.local"}
}
