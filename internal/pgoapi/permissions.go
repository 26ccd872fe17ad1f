package pgoapi

// Permission is the right to call one operation, named as in the Crunchy
// PostgreSQL Operator 4.x apiserver. A pgo role grants a list of them, or
// all with PermissionAll.
type Permission string

// PermissionAll in a role grants every permission.
const PermissionAll Permission = "*"

// Permissions, one per operation.
const (
	PermVersion   Permission = "Version"
	PermStatus    Permission = "Status"
	PermWorkflow  Permission = "ShowWorkflow"
	PermShowNS    Permission = "ShowNamespace"
	PermCreateNS  Permission = "CreateNamespace"
	PermDeleteNS  Permission = "DeleteNamespace"
	PermCreate    Permission = "CreateCluster"
	PermShow      Permission = "ShowCluster"
	PermUpdate    Permission = "UpdateCluster"
	PermDelete    Permission = "DeleteCluster"
	PermTest      Permission = "TestCluster"
	PermScale     Permission = "ScaleCluster"
	PermScaledown Permission = "ScaledownCluster"
	PermFailover  Permission = "CreateFailover"
	PermRestart   Permission = "Restart"

	PermCreateBackup Permission = "CreateBackup"
	PermShowBackup   Permission = "ShowBackup"
	PermDeleteBackup Permission = "DeleteBackup"

	PermCreateUser Permission = "CreateUser"
	PermShowUser   Permission = "ShowUser"
	PermUpdateUser Permission = "UpdateUser"
	PermDeleteUser Permission = "DeleteUser"
	// PermShowSecrets lets ShowUser answer with passwords.
	PermShowSecrets Permission = "ShowSecrets"
	// PermCreateSuperuser lets CreateUser and UpdateUser give the role
	// options that reach beyond a user's own databases: SUPERUSER,
	// REPLICATION, BYPASSRLS and CREATEROLE.
	PermCreateSuperuser Permission = "CreateSuperuser"

	PermCreatePgouser Permission = "CreatePgouser"
	PermShowPgouser   Permission = "ShowPgouser"
	PermUpdatePgouser Permission = "UpdatePgouser"
	PermDeletePgouser Permission = "DeletePgouser"
	PermCreatePgorole Permission = "CreatePgorole"
	PermShowPgorole   Permission = "ShowPgorole"
	PermUpdatePgorole Permission = "UpdatePgorole"
	PermDeletePgorole Permission = "DeletePgorole"
)

// Permissions lists every permission a role may grant, in a stable order.
var Permissions = []Permission{
	PermVersion, PermStatus, PermWorkflow,
	PermShowNS, PermCreateNS, PermDeleteNS,
	PermCreate, PermShow, PermUpdate, PermDelete, PermTest,
	PermScale, PermScaledown, PermFailover, PermRestart,
	PermCreateBackup, PermShowBackup, PermDeleteBackup,
	PermCreateUser, PermShowUser, PermUpdateUser, PermDeleteUser, PermShowSecrets, PermCreateSuperuser,
	PermCreatePgouser, PermShowPgouser, PermUpdatePgouser, PermDeletePgouser,
	PermCreatePgorole, PermShowPgorole, PermUpdatePgorole, PermDeletePgorole,
}

// KnownPermission reports whether p names a permission (or is "*").
func KnownPermission(p Permission) bool {
	if p == PermissionAll {
		return true
	}
	for _, q := range Permissions {
		if p == q {
			return true
		}
	}
	return false
}
