package specs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/rules"
)

// pgBackRest in a cluster's pods: every pod reads its configuration, and
// its pgBackRest certificate, under /etc/pgo/pgbackrest.
const (
	backRestDir     = secretsDir + "/pgbackrest"
	backRestConfig  = backRestDir + "/pgbackrest.conf"
	backRestInclude = backRestDir + "/conf.d"
	backRestLock    = "/tmp/pgbackrest"
	// repoMount holds the volume repositories on the repository host, one
	// directory each.
	repoMount = "/pgbackrest"
	// backRestEmptyKey is an empty configuration for the database pods'
	// include directory, which must exist.
	backRestEmptyKey = "pgbackrest-empty.conf"
)

// S3 credentials Secret keys (spec.backups.repos[].s3.credentialsSecret),
// as Crunchy 4.x names them.
const (
	KeyS3Key       = "aws-s3-key"
	KeyS3KeySecret = "aws-s3-key-secret"
	KeyS3CA        = "aws-s3-ca.crt"
)

// backRestTLS is where a pod's pgBackRest certificate is.
var backRestTLS = pgbackrest.TLS{
	CAFile:   backRestDir + "/ca.crt",
	CertFile: backRestDir + "/tls.crt",
	KeyFile:  backRestDir + "/tls.key",
}

// Repos are a cluster's repositories: spec.backups.repos, or one volume
// repository as large as the primary's volume.
func Repos(c *pgov1.PGCluster) []pgov1.PGBackupRepo {
	if c.Spec.Backups != nil && len(c.Spec.Backups.Repos) > 0 {
		return c.Spec.Backups.Repos
	}
	s := c.Spec.PrimaryStorage
	return []pgov1.PGBackupRepo{{Name: "repo1", Volume: &pgov1.PGStorage{Size: s.Size, StorageClassName: s.StorageClassName}}}
}

// RepoIndex is a repository's number: repo2 is 2.
func RepoIndex(name pgov1.RepoName) int {
	n, _ := strconv.Atoi(string(name[len("repo"):]))
	return n
}

// RepoPath is where a repository lives: a directory of the repository
// host's volume, or a path in the bucket (/pgbackrest/<namespace>/<cluster>
// unless given).
func RepoPath(c *pgov1.PGCluster, r pgov1.PGBackupRepo) string {
	switch {
	case r.S3 == nil:
		return repoMount + "/" + string(r.Name)
	case r.S3.Path != "":
		return r.S3.Path
	}
	return "/pgbackrest/" + c.Namespace + "/" + c.Name
}

// RepoHostName is the DNS name of a cluster's repository host pod.
func RepoHostName(c *pgov1.PGCluster) string {
	return naming.PodOfInstance(naming.RepoHost(c.Name)) + "." + naming.PodsDomain(c.Name, c.Namespace) + ".cluster.local"
}

// instanceHost is the DNS name of an instance's pod.
func instanceHost(c *pgov1.PGCluster, instance string) string {
	return naming.PodOfInstance(instance) + "." + naming.PodsDomain(c.Name, c.Namespace) + ".cluster.local"
}

// backRestPostgres is how pgBackRest reaches PostgreSQL in a pod.
func backRestPostgres(c *pgov1.PGCluster, host string) pgbackrest.Postgres {
	return pgbackrest.Postgres{
		Host: host, Path: DataDir(c), Port: int(c.Spec.Port), SocketDir: socketDir, User: postgres.SuperUser,
		Files: pgbackrest.Files{Config: backRestConfig, IncludePath: backRestInclude},
	}
}

// BackRestInstanceConfig is the pgBackRest configuration of a cluster's
// database pods.
func BackRestInstanceConfig(c *pgov1.PGCluster) string {
	var repos []int
	for _, r := range Repos(c) {
		repos = append(repos, RepoIndex(r.Name))
	}
	return pgbackrest.InstanceConfig(pgbackrest.Instance{
		Postgres:      backRestPostgres(c, ""),
		RepoHost:      RepoHostName(c),
		RepoHostFiles: pgbackrest.Files{Config: backRestConfig, IncludePath: backRestInclude},
		Repos:         repos,
		SpoolPath:     dataMount + "/pgbackrest-spool",
		LockPath:      backRestLock,
		TLS:           backRestTLS,
		ClientName:    naming.BackRestClientName(c.Name),
	})
}

// BackRestRepoHostConfig is the pgBackRest configuration of a cluster's
// repository host: every instance is a PostgreSQL host, pgBackRest finds
// the primary among them.
func BackRestRepoHostConfig(c *pgov1.PGCluster, instances []Instance) string {
	var pgs []pgbackrest.Postgres
	for _, inst := range instances {
		pgs = append(pgs, backRestPostgres(c, instanceHost(c, inst.Name)))
	}
	var repos []pgbackrest.Repo
	for _, r := range Repos(c) {
		repo := pgbackrest.Repo{Index: RepoIndex(r.Name), Path: RepoPath(c, r), Encrypted: r.Encrypted}
		if s := r.S3; s != nil {
			host, port := s.Endpoint, 0
			if i := strings.LastIndexByte(host, ':'); i >= 0 {
				port, _ = strconv.Atoi(host[i+1:])
				host = host[:i]
			}
			repo.S3 = &pgbackrest.S3{Bucket: s.Bucket, Endpoint: host, Port: port, Region: s.Region, URIStyle: string(s.URIStyle),
				VerifyTLS: s.VerifyTLS == nil || *s.VerifyTLS, CAFile: s3CAFile(r.Name)}
		}
		if t := r.Retention; t != nil {
			repo.RetentionFull = int(ptr.Deref(t.Full, 0))
			repo.RetentionFullType = string(t.FullType)
			repo.RetentionDiff = int(ptr.Deref(t.Diff, 0))
		}
		repos = append(repos, repo)
	}
	return pgbackrest.RepoHostConfig(pgbackrest.RepoHost{
		Postgres:   pgs,
		Repos:      repos,
		LockPath:   backRestLock,
		TLS:        backRestTLS,
		ClientName: naming.BackRestClientName(c.Name),
	})
}

// s3CAFile is where the repository host finds the CA of an S3 repository's
// endpoint (when its credentials Secret has one).
func s3CAFile(repo pgov1.RepoName) string { return backRestDir + "/s3/" + string(repo) + "-ca.crt" }

// BackRestConfigMap holds the pgBackRest configurations of the database
// pods and of the repository host.
func BackRestConfigMap(c *pgov1.PGCluster, instances []Instance) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(c, naming.BackRestConfigMap(c.Name)),
		Data: map[string]string{
			naming.KeyBackRestInstance: BackRestInstanceConfig(c),
			naming.KeyBackRestRepoHost: BackRestRepoHostConfig(c, instances),
			backRestEmptyKey:           "# The database pods' pgBackRest has no secret options.\n",
		},
	}
}

// CipherPassKey is the key of BackRestSecret that keeps an encrypted
// repository's passphrase.
func CipherPassKey(repo pgov1.RepoName) string { return string(repo) + "-cipher-pass" }

// BackRestSecret holds the repository host's secret options: the S3 keys
// (by repository) and the passphrases of encrypted repositories (kept
// under CipherPassKey, so that they never change).
func BackRestSecret(c *pgov1.PGCluster, s3Keys map[pgov1.RepoName][2]string, cipherPasses map[pgov1.RepoName]string) *corev1.Secret {
	in := pgbackrest.Secrets{S3Keys: map[int][2]string{}, CipherPasses: map[int]string{}}
	data := map[string][]byte{}
	for name, k := range s3Keys {
		in.S3Keys[RepoIndex(name)] = k
	}
	for name, pass := range cipherPasses {
		in.CipherPasses[RepoIndex(name)] = pass
		data[CipherPassKey(name)] = []byte(pass)
	}
	data[naming.KeyBackRestSecret] = []byte(pgbackrest.SecretConfig(in))
	return secret(c, naming.BackRestSecret(c.Name), corev1.SecretTypeOpaque, data)
}

// RepoHostAPISecret holds the credentials of the repository host's API.
func RepoHostAPISecret(c *pgov1.PGCluster, password string) *corev1.Secret {
	return UserSecret(c, naming.RepoHostAPISecret(c.Name), "pgo", password, "")
}

// RepoHostLabels select a cluster's repository host pod.
func RepoHostLabels(cluster string) map[string]string {
	return map[string]string{naming.LabelCluster: cluster, naming.LabelRole: naming.RoleRepoHost}
}

// RepoClaims are the volumes of a cluster's volume repositories, mounted by
// its repository host.
func RepoClaims(c *pgov1.PGCluster) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for _, r := range Repos(c) {
		if r.Volume == nil {
			continue
		}
		mode := r.Volume.AccessMode
		if mode == "" {
			mode = corev1.ReadWriteOnce
		}
		out = append(out, &corev1.PersistentVolumeClaim{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: metav1.ObjectMeta{Name: naming.RepoVolume(c.Name, string(r.Name)), Namespace: c.Namespace, Labels: labels(c, RepoHostLabels(c.Name)), Annotations: annotations(c)},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: r.Volume.StorageClassName,
				AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: r.Volume.Size}},
			},
		})
	}
	return out
}

// backRestSources project the pgBackRest configuration and certificate
// into a pod: the database pods' configuration (key) or the repository
// host's, whose include directory holds the secret options.
func backRestSources(c *pgov1.PGCluster, configKey string, secretItems []corev1.VolumeProjection) []corev1.VolumeProjection {
	sources := []corev1.VolumeProjection{
		{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.BackRestConfigMap(c.Name)},
			Items:                []corev1.KeyToPath{{Key: configKey, Path: "pgbackrest/pgbackrest.conf"}},
		}},
		{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.BackRestCertSecret(c.Name)},
			Items: []corev1.KeyToPath{
				{Key: naming.KeyCACert, Path: "pgbackrest/ca.crt"},
				{Key: corev1.TLSCertKey, Path: "pgbackrest/tls.crt"},
				{Key: corev1.TLSPrivateKeyKey, Path: "pgbackrest/tls.key"},
			},
		}},
	}
	return append(sources, secretItems...)
}

// backRestEnv points pgbackrest (and what runs it: PostgreSQL's
// archive_command) at its configuration.
func backRestEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: repohostapi.EnvBackRestConfig, Value: backRestConfig},
		{Name: repohostapi.EnvBackRestInclude, Value: backRestInclude},
	}
}

// instanceBackRestSources are a database pod's pgBackRest files.
func instanceBackRestSources(c *pgov1.PGCluster) []corev1.VolumeProjection {
	return backRestSources(c, naming.KeyBackRestInstance, []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: naming.BackRestConfigMap(c.Name)},
		Items:                []corev1.KeyToPath{{Key: backRestEmptyKey, Path: "pgbackrest/conf.d/empty.conf"}},
	}}})
}

// backRestSidecar runs the database pod's pgBackRest TLS server, which the
// repository host reaches PostgreSQL through. It reads the data directory
// and connects to PostgreSQL's socket as the superuser, with the password
// file the instance manager writes.
func backRestSidecar(c *pgov1.PGCluster, image string, mounts []corev1.VolumeMount, security *corev1.SecurityContext) corev1.Container {
	env := append([]corev1.EnvVar{
		fieldEnv(repohostapi.EnvPodIP, "status.podIP"),
		{Name: "PGPASSFILE", Value: socketDir + "/.pgpass"},
	}, backRestEnv()...)
	return corev1.Container{
		Name:            "pgbackrest",
		Image:           image,
		Command:         []string{managerPath, "pgbackrest-server"},
		Env:             env,
		Ports:           []corev1.ContainerPort{{Name: "pgbackrest", ContainerPort: pgbackrest.ServerPort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts:    mounts,
		SecurityContext: security,
	}
}

// RepoHostStatefulSet runs a cluster's repository host: one pod whose
// pgbackrest server holds the repositories, and whose API runs backups.
func RepoHostStatefulSet(c *pgov1.PGCluster, opts Options) *appsv1.StatefulSet {
	replicas := int32(1)
	if c.Spec.Shutdown {
		replicas = 0
	}
	image := image(c, opts)
	podLabels := labels(c, RepoHostLabels(c.Name))
	var resources corev1.ResourceRequirements
	if c.Spec.Backups != nil {
		resources = corev1.ResourceRequirements(c.Spec.Backups.Resources)
	}
	secretItems := []corev1.VolumeProjection{
		{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.BackRestSecret(c.Name)},
			Items:                []corev1.KeyToPath{{Key: naming.KeyBackRestSecret, Path: "pgbackrest/conf.d/secret.conf"}},
		}},
		{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: naming.RepoHostAPISecret(c.Name)},
			Items:                []corev1.KeyToPath{{Key: naming.KeyPassword, Path: "repohost-api/password"}},
		}},
	}
	for _, r := range Repos(c) {
		if r.S3 == nil {
			continue
		}
		secretItems = append(secretItems, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: string(r.S3.CredentialsSecret)},
			Items:                []corev1.KeyToPath{{Key: KeyS3CA, Path: "pgbackrest/s3/" + string(r.Name) + "-ca.crt"}},
			Optional:             ptr.To(true),
		}})
	}
	mounts := []corev1.VolumeMount{
		{Name: "bin", MountPath: binDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
		{Name: "secrets", MountPath: secretsDir, ReadOnly: true},
	}
	volumes := []corev1.Volume{
		{Name: "bin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "secrets", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To[int32](0o440),
			Sources:     backRestSources(c, naming.KeyBackRestRepoHost, secretItems),
		}}},
	}
	for _, r := range Repos(c) {
		if r.Volume == nil {
			continue
		}
		repo := string(r.Name)
		mounts = append(mounts, corev1.VolumeMount{Name: repo, MountPath: repoMount + "/" + repo})
		volumes = append(volumes, corev1.Volume{Name: repo, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: naming.RepoVolume(c.Name, repo)}}})
	}
	env := append([]corev1.EnvVar{
		fieldEnv(repohostapi.EnvPodIP, "status.podIP"),
		{Name: repohostapi.EnvCertFile, Value: backRestTLS.CertFile},
		{Name: repohostapi.EnvKeyFile, Value: backRestTLS.KeyFile},
		{Name: repohostapi.EnvCAFile, Value: backRestTLS.CAFile},
		{Name: repohostapi.EnvAPIUser, Value: "pgo"},
		{Name: repohostapi.EnvAPIPassword, Value: secretsDir + "/repohost-api/password"},
	}, backRestEnv()...)
	security := containerSecurity()
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: naming.RepoHost(c.Name), Namespace: c.Namespace, Labels: podLabels, Annotations: annotations(c)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         naming.PodsService(c.Name),
			Selector:            &metav1.LabelSelector{MatchLabels: RepoHostLabels(c.Name)},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations(c)},
				Spec: corev1.PodSpec{
					// The repository host needs nothing from the Kubernetes
					// API.
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					SecurityContext:               podSecurity(opts),
					InitContainers:                []corev1.Container{copyManager("repo-host-manager", opts)},
					Containers: []corev1.Container{{
						Name:    "pgbackrest",
						Image:   image,
						Command: []string{managerPath, "repohost"},
						Env:     env,
						Ports: []corev1.ContainerPort{
							{Name: "pgbackrest", ContainerPort: pgbackrest.ServerPort, Protocol: corev1.ProtocolTCP},
							{Name: "api", ContainerPort: repohostapi.Port, Protocol: corev1.ProtocolTCP},
						},
						Resources:    resources,
						VolumeMounts: mounts,
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: repohostapi.PathHealth, Port: intstr.FromInt32(repohostapi.Port), Scheme: corev1.URISchemeHTTPS}},
							PeriodSeconds:    5,
							TimeoutSeconds:   5,
							FailureThreshold: 3,
						},
						SecurityContext: security,
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

// S3Keys are the keys of a cluster's S3 repositories, read from their
// credentials Secrets (by the caller); it says which Secret or key is
// missing.
func S3Keys(c *pgov1.PGCluster, secrets map[string]*corev1.Secret) (map[pgov1.RepoName][2]string, error) {
	out := map[pgov1.RepoName][2]string{}
	for _, r := range Repos(c) {
		if r.S3 == nil {
			continue
		}
		s := secrets[string(r.S3.CredentialsSecret)]
		if s == nil {
			return nil, fmt.Errorf("the S3 credentials Secret %s of %s is not found", r.S3.CredentialsSecret, r.Name)
		}
		for _, k := range []string{KeyS3Key, KeyS3KeySecret} {
			if why := rules.S3Key(string(s.Data[k])); why != "" {
				return nil, fmt.Errorf("the key %s of the S3 credentials Secret %s of %s %s", k, r.S3.CredentialsSecret, r.Name, why)
			}
		}
		out[r.Name] = [2]string{string(s.Data[KeyS3Key]), string(s.Data[KeyS3KeySecret])}
	}
	return out, nil
}

// EncryptedRepos are the repositories that need a cipher passphrase.
func EncryptedRepos(c *pgov1.PGCluster) []pgov1.RepoName {
	var out []pgov1.RepoName
	for _, r := range Repos(c) {
		if r.Encrypted {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out
}
