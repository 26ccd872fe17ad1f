package pgoapi

import (
	"net/http"
	"strings"
)

// Route is one operation of the API. The server registers its handlers and
// its authorisation from Routes, and generates the OpenAPI document from it.
type Route struct {
	// Method and Pattern, as an http.ServeMux pattern: path parameters are
	// {ns}, {name}, {replica}, {user} and {id}.
	Method  string
	Pattern string
	// Operation is the OpenAPI operationId; it names the handler.
	Operation string
	// Permission needed; "" means the route needs no authentication.
	Permission Permission
	// Summary for the OpenAPI document.
	Summary string
	// Query parameters the route reads.
	Query []string
	// Request is a pointer to the body type, nil without body; Response is a
	// pointer to the type of a 200 or 201 answer.
	Request  any
	Response any
	// Status is the success status code.
	Status int
}

// Namespaced reports whether the route works in one namespace, {ns}, which
// the pgo user must be allowed to access.
func (r Route) Namespaced() bool { return strings.Contains(r.Pattern, "{"+ParamNamespace+"}") }

const (
	clusters = PathNamespaces + "/{ns}/clusters"
	cluster  = clusters + "/{name}"
)

// Routes is every route of the API.
var Routes = []Route{
	{Method: http.MethodGet, Pattern: PathHealthz, Operation: "Healthz", Summary: "Liveness of the apiserver; answers ok", Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: PathOpenAPI, Operation: "OpenAPI", Summary: "This API as an OpenAPI 3 document", Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: PathVersion, Operation: "Version", Permission: PermVersion, Summary: "Versions of the apiserver and Kubernetes", Response: &VersionResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: PathStatus, Operation: "Status", Permission: PermStatus, Summary: "Counts of clusters, instances and volumes", Query: []string{QueryNamespace}, Response: &StatusResponse{}, Status: http.StatusOK},

	{Method: http.MethodGet, Pattern: PathNamespaces, Operation: "ShowNamespace", Permission: PermShowNS, Summary: "Namespaces the pgo user may access", Response: &ShowNamespaceResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: PathNamespaces, Operation: "CreateNamespace", Permission: PermCreateNS, Summary: "Create a namespace for clusters", Request: &CreateNamespaceRequest{}, Response: &CreateNamespaceResponse{}, Status: http.StatusCreated},
	{Method: http.MethodDelete, Pattern: PathNamespaces + "/{ns}", Operation: "DeleteNamespace", Permission: PermDeleteNS, Summary: "Delete a namespace created with pgo, and everything in it", Response: &DeleteNamespaceResponse{}, Status: http.StatusOK},

	{Method: http.MethodGet, Pattern: clusters, Operation: "ShowClusters", Permission: PermShow, Summary: "Clusters of a namespace", Query: []string{QuerySelector}, Response: &ShowClusterResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: clusters, Operation: "CreateCluster", Permission: PermCreate, Summary: "Create a cluster", Request: &CreateClusterRequest{}, Response: &CreateClusterResponse{}, Status: http.StatusCreated},
	{Method: http.MethodGet, Pattern: cluster, Operation: "ShowCluster", Permission: PermShow, Summary: "One cluster with its pods, volumes, workloads and Services", Response: &ShowClusterResponse{}, Status: http.StatusOK},
	{Method: http.MethodPatch, Pattern: cluster, Operation: "UpdateCluster", Permission: PermUpdate, Summary: "Change resources, autofail, shutdown", Request: &UpdateClusterRequest{}, Response: &UpdateClusterResponse{}, Status: http.StatusOK},
	{Method: http.MethodDelete, Pattern: cluster, Operation: "DeleteCluster", Permission: PermDelete, Summary: "Delete a cluster", Query: []string{QueryKeepData, QueryKeepBackups}, Response: &DeleteClusterResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: cluster + "/test", Operation: "TestCluster", Permission: PermTest, Summary: "Connect to every Service and instance", Response: &TestClusterResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: cluster + "/scale", Operation: "ScaleCluster", Permission: PermScale, Summary: "Add replicas", Request: &ScaleClusterRequest{}, Response: &ScaleClusterResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: cluster + "/replicas", Operation: "ScaledownQuery", Permission: PermScaledown, Summary: "Replicas that can be removed", Response: &ReplicasResponse{}, Status: http.StatusOK},
	{Method: http.MethodDelete, Pattern: cluster + "/replicas/{replica}", Operation: "ScaledownCluster", Permission: PermScaledown, Summary: "Remove one replica", Query: []string{QueryKeepData}, Response: &ScaledownResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: cluster + "/failover", Operation: "FailoverQuery", Permission: PermFailover, Summary: "Replicas that can become primary", Response: &ReplicasResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: cluster + "/failover", Operation: "CreateFailover", Permission: PermFailover, Summary: "Switch over (or fail over with force) to a replica", Request: &FailoverRequest{}, Response: &FailoverResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: cluster + "/restart", Operation: "RestartQuery", Permission: PermRestart, Summary: "Instances with pending restarts", Response: &ReplicasResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: cluster + "/restart", Operation: "Restart", Permission: PermRestart, Summary: "Restart PostgreSQL in some or all instances, or roll the pods", Request: &RestartRequest{}, Response: &RestartResponse{}, Status: http.StatusOK},

	{Method: http.MethodPost, Pattern: cluster + "/backups", Operation: "CreateBackup", Permission: PermCreateBackup, Summary: "Start a pgBackRest backup", Request: &CreateBackupRequest{}, Response: &CreateBackupResponse{}, Status: http.StatusCreated},
	{Method: http.MethodGet, Pattern: cluster + "/backups", Operation: "ShowBackup", Permission: PermShowBackup, Summary: "The repositories of a cluster and their backups (pgbackrest info)", Response: &ShowBackupResponse{}, Status: http.StatusOK},
	{Method: http.MethodDelete, Pattern: cluster + "/backups/{label}", Operation: "DeleteBackup", Permission: PermDeleteBackup, Summary: "Expire one backup set", Query: []string{QueryRepo, QueryForce}, Response: &DeleteBackupResponse{}, Status: http.StatusOK},

	{Method: http.MethodGet, Pattern: cluster + "/users", Operation: "ShowUser", Permission: PermShowUser, Summary: "Users of a cluster", Query: []string{QueryShowPassword, QueryExpiring}, Response: &ShowUserResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: cluster + "/users", Operation: "CreateUser", Permission: PermCreateUser, Summary: "Create a database user", Request: &CreateUserRequest{}, Response: &UserResponse{}, Status: http.StatusCreated},
	{Method: http.MethodPatch, Pattern: cluster + "/users/{user}", Operation: "UpdateUser", Permission: PermUpdateUser, Summary: "Change a user's password, expiry, type", Request: &UpdateUserRequest{}, Response: &UserResponse{}, Status: http.StatusOK},
	{Method: http.MethodDelete, Pattern: cluster + "/users/{user}", Operation: "DeleteUser", Permission: PermDeleteUser, Summary: "Delete a database user", Response: &DeleteUserResponse{}, Status: http.StatusOK},

	{Method: http.MethodGet, Pattern: PathNamespaces + "/{ns}/workflows/{id}", Operation: "ShowWorkflow", Permission: PermWorkflow, Summary: "Steps of a long operation", Response: &Workflow{}, Status: http.StatusOK},

	{Method: http.MethodGet, Pattern: PathPgousers, Operation: "ShowPgousers", Permission: PermShowPgouser, Summary: "pgo users", Response: &ShowPgouserResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: PathPgousers + "/{name}", Operation: "ShowPgouser", Permission: PermShowPgouser, Summary: "One pgo user", Response: &ShowPgouserResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: PathPgousers, Operation: "CreatePgouser", Permission: PermCreatePgouser, Summary: "Create a pgo user", Request: &CreatePgouserRequest{}, Response: &PgouserResponse{}, Status: http.StatusCreated},
	{Method: http.MethodPatch, Pattern: PathPgousers + "/{name}", Operation: "UpdatePgouser", Permission: PermUpdatePgouser, Summary: "Change a pgo user", Request: &UpdatePgouserRequest{}, Response: &PgouserResponse{}, Status: http.StatusOK},
	{Method: http.MethodDelete, Pattern: PathPgousers + "/{name}", Operation: "DeletePgouser", Permission: PermDeletePgouser, Summary: "Delete a pgo user", Response: &DeletedResponse{}, Status: http.StatusOK},

	{Method: http.MethodGet, Pattern: PathPgoroles, Operation: "ShowPgoroles", Permission: PermShowPgorole, Summary: "pgo roles", Response: &ShowPgoroleResponse{}, Status: http.StatusOK},
	{Method: http.MethodGet, Pattern: PathPgoroles + "/{name}", Operation: "ShowPgorole", Permission: PermShowPgorole, Summary: "One pgo role", Response: &ShowPgoroleResponse{}, Status: http.StatusOK},
	{Method: http.MethodPost, Pattern: PathPgoroles, Operation: "CreatePgorole", Permission: PermCreatePgorole, Summary: "Create a pgo role", Request: &CreatePgoroleRequest{}, Response: &PgoroleResponse{}, Status: http.StatusCreated},
	{Method: http.MethodPatch, Pattern: PathPgoroles + "/{name}", Operation: "UpdatePgorole", Permission: PermUpdatePgorole, Summary: "Change a pgo role's permissions", Request: &UpdatePgoroleRequest{}, Response: &PgoroleResponse{}, Status: http.StatusOK},
	{Method: http.MethodDelete, Pattern: PathPgoroles + "/{name}", Operation: "DeletePgorole", Permission: PermDeletePgorole, Summary: "Delete a pgo role", Response: &DeletedResponse{}, Status: http.StatusOK},
}
