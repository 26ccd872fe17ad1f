package specs

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/naming"
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
		dc.PostgreSQL.Parameters = cfg.Parameters
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
// RoleBinding that give it what the managers need in the namespace.
func InstanceRBAC(c *pgov1.PGCluster) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	name := naming.InstanceServiceAccount(c.Name)
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(c, name)}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(c, name),
		Rules:      append(dcs.PolicyRules(), dcs.UsersSecretRule(c.Name)),
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(c, name),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: c.Namespace}},
	}
	return sa, role, binding
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

// SuperuserSecret, ReplicationSecret and APISecret hold the passwords of
// the postgres superuser, the replication user and the instance managers'
// REST API.
func SuperuserSecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.SuperuserSecret(c.Name), postgres.SuperUser, password, "")
}

func ReplicationSecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.ReplicationSecret(c.Name), postgres.ReplicationUser, password, "")
}

func APISecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.APISecret(c.Name), "pgo", password, "")
}

// AppUserSecret holds the application user's password and how to connect.
func AppUserSecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.UserSecret(c.Name, string(c.Spec.User)), string(c.Spec.User), password, Database(c))
}

// RootCASecret holds a namespace's root CA.
func RootCASecret(namespace string, cert, key []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: naming.RootCASecret, Namespace: namespace, Labels: map[string]string{naming.LabelCluster: ""}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{naming.KeyCACert: cert, naming.KeyCAKey: key},
	}
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
	pods := naming.PodsService(c.Name) + "." + c.Namespace + ".svc"
	return append(names, "*."+pods, "*."+pods+".cluster.local")
}
