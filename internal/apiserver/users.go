package apiserver

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/specs"
)

// Database users live in the cluster's spec.users (the declarative side:
// the controller and the instance managers make the database match) and
// their passwords in the Secrets "<cluster>-<user>-secret". The apiserver
// writes the spec first, then the Secret: the controller removes the
// Secrets of users that are not in the spec.

// userOf describes a user of a cluster.
func userOf(c *pgov1.PGCluster, u pgov1.PGUser, now time.Time) pgoapi.User {
	out := pgoapi.User{Cluster: c.Name, Name: string(u.Name), Options: u.Options, PasswordType: string(u.PasswordType),
		Secret: naming.UserSecret(c.Name, string(u.Name))}
	if out.PasswordType == "" {
		out.PasswordType = string(c.Spec.PasswordType)
	}
	for _, d := range u.Databases {
		out.Databases = append(out.Databases, string(d))
	}
	if u.ValidUntil != nil {
		t := u.ValidUntil.UTC()
		out.ValidUntil = &t
		out.Expired = !t.After(now)
	}
	return out
}

// ownerOf describes the cluster's application user.
func ownerOf(c *pgov1.PGCluster) pgoapi.User {
	return pgoapi.User{Cluster: c.Name, Name: string(c.Spec.User), Databases: []string{specs.Database(c)},
		PasswordType: string(c.Spec.PasswordType), Secret: naming.UserSecret(c.Name, string(c.Spec.User)), Owner: true}
}

func (s *Server) showUsers(ctx context.Context, r *request) (any, error) {
	showPassword, err := boolQuery(r, pgoapi.QueryShowPassword)
	if err != nil {
		return nil, err
	}
	if showPassword && !r.user.can(pgoapi.PermShowSecrets) {
		return nil, forbidden("pgo user %s lacks the permission %s, which showing passwords needs", r.user.Name, pgoapi.PermShowSecrets)
	}
	expiring := -1
	if v := r.URL.Query().Get(pgoapi.QueryExpiring); v != "" {
		if expiring, err = strconv.Atoi(v); err != nil || rules.Days(expiring) != "" {
			return nil, badRequest("query parameter %s=%q is not a number of days from 0 to %d", pgoapi.QueryExpiring, v, rules.MaxDays)
		}
	}
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	users := []pgoapi.User{ownerOf(c)}
	for _, u := range c.Spec.Users {
		users = append(users, userOf(c, u, now))
	}
	resp := pgoapi.ShowUserResponse{Users: []pgoapi.User{}}
	for _, u := range users {
		if expiring >= 0 && (u.ValidUntil == nil || u.ValidUntil.After(now.Add(time.Duration(expiring)*24*time.Hour))) {
			continue
		}
		if showPassword {
			secret := &corev1.Secret{}
			err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: u.Secret}, secret)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
			u.Password = string(secret.Data[naming.KeyPassword])
		}
		resp.Users = append(resp.Users, u)
	}
	return resp, nil
}

// findUser is the index of a user in spec.users, or -1.
func findUser(c *pgov1.PGCluster, name string) int {
	return slices.IndexFunc(c.Spec.Users, func(u pgov1.PGUser) bool { return string(u.Name) == name })
}

// passwordLength checks the length asked of a generated password; 0 is the
// default.
func (c *checks) passwordLength(field string, n int) {
	if n != 0 {
		c.number(field, n, rules.PasswordLength(n))
	}
}

// databases checks the databases given to a user.
func (c *checks) databases(field string, dbs []string) {
	for i, d := range dbs {
		c.databaseName(fmt.Sprintf("%s[%d]", field, i), d)
	}
	c.rule(field, "", rules.Count(len(dbs), rules.MaxUserDatabases))
}

func (s *Server) createUser(ctx context.Context, r *request) (any, error) {
	ns, name := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName)
	var req pgoapi.CreateUserRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	v.roleName("username", req.Username)
	v.password("password", req.Password)
	v.passwordLength("passwordLength", req.PasswordLength)
	v.enum("passwordType", req.PasswordType, rules.PasswordTypes)
	v.number("validDays", req.ValidDays, rules.Days(req.ValidDays))
	v.databases("databases", req.Databases)
	attrs := v.roleOptions("options", req.Options)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := mayGiveRoleOptions(r.user, attrs); err != nil {
		return nil, err
	}
	password := req.Password
	if password == "" {
		var err error
		if password, err = newPassword(req.PasswordLength); err != nil {
			return nil, err
		}
	}
	user := pgov1.PGUser{Name: pgov1.RoleName(req.Username), Options: req.Options, PasswordType: pgov1.PasswordType(req.PasswordType)}
	for _, d := range req.Databases {
		user.Databases = append(user.Databases, pgov1.DatabaseName(d))
	}
	if req.ValidDays > 0 {
		user.ValidUntil = &metav1.Time{Time: s.Now().Add(time.Duration(req.ValidDays) * 24 * time.Hour).UTC().Truncate(time.Second)}
	}
	c, err := s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
		if string(c.Spec.User) == req.Username {
			return conflict("%s is the application user of cluster %s; it exists already", req.Username, name)
		}
		if findUser(c, req.Username) >= 0 {
			return conflict("user %s already exists in cluster %s; change it with pgo update user", req.Username, name)
		}
		if len(user.Databases) == 0 {
			user.Databases = []pgov1.DatabaseName{pgov1.DatabaseName(specs.Database(c))}
		}
		c.Spec.Users = append(c.Spec.Users, user)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.writeUserSecret(ctx, c, req.Username, password, string(user.Databases[0]), true); err != nil {
		return nil, err
	}
	out := userOf(c, c.Spec.Users[findUser(c, req.Username)], s.Now())
	out.Password = password
	return pgoapi.UserResponse{User: out}, nil
}

func (s *Server) updateUser(ctx context.Context, r *request) (any, error) {
	ns, name, username := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName), r.PathValue(pgoapi.ParamUser)
	var req pgoapi.UpdateUserRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	if req.Password != nil {
		if *req.Password == "" {
			v.add("password", "is empty; give a password, or rotatePassword to generate one")
		}
		v.password("password", *req.Password)
		if req.RotatePassword {
			v.add("rotatePassword", "goes without password: either set a password or generate one")
		}
	}
	v.passwordLength("passwordLength", req.PasswordLength)
	if req.PasswordLength != 0 && !req.RotatePassword {
		v.add("passwordLength", "needs rotatePassword")
	}
	if req.PasswordType != nil {
		v.enum("passwordType", *req.PasswordType, rules.PasswordTypes)
		if *req.PasswordType == "" {
			v.add("passwordType", "is empty; give scram-sha-256 or md5")
		}
		if req.Password == nil && !req.RotatePassword {
			v.add("passwordType", "changing how the password is stored needs the password set again: give password or rotatePassword too")
		}
	}
	if req.ValidDays != nil && *req.ValidDays > 0 { // 0 or less: never expires
		v.number("validDays", *req.ValidDays, rules.Days(*req.ValidDays))
	}
	if req.ValidDays != nil && req.ExpireUser {
		v.add("expireUser", "goes without validDays: either expire the password now or set when it expires")
	}
	if req.Databases != nil {
		v.databases("databases", *req.Databases)
	}
	attrs := postgres.DefaultRoleAttributes()
	if req.Options != nil {
		attrs = v.roleOptions("options", *req.Options)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := mayGiveRoleOptions(r.user, attrs); err != nil {
		return nil, err
	}
	if req.Password == nil && !req.RotatePassword && req.PasswordType == nil && req.ValidDays == nil && !req.ExpireUser && req.Databases == nil && req.Options == nil {
		return nil, invalid([]pgoapi.FieldError{{Message: "nothing to change: give password, rotatePassword, passwordType, validDays, expireUser, databases or options"}})
	}

	password := ""
	if req.Password != nil {
		password = *req.Password
	} else if req.RotatePassword {
		var err error
		if password, err = newPassword(req.PasswordLength); err != nil {
			return nil, err
		}
	}
	// A user that holds privileged options is changed (its password
	// first of all) only by a caller who may give them.
	if c, err := s.clusterOf(ctx, r); err == nil {
		if i := findUser(c, username); i >= 0 {
			held, _ := postgres.ParseRoleOptions(c.Spec.Users[i].Options)
			if err := mayGiveRoleOptions(r.user, held); err != nil {
				return nil, err
			}
		}
	}
	now := s.Now()
	specChange := req.PasswordType != nil || req.ValidDays != nil || req.ExpireUser || req.Databases != nil || req.Options != nil
	var c *pgov1.PGCluster
	var err error
	if specChange {
		c, err = s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
			if string(c.Spec.User) == username {
				return invalid([]pgoapi.FieldError{{Message: fmt.Sprintf("%s is the application user of cluster %s; only its password can change", username, name)}})
			}
			i := findUser(c, username)
			if i < 0 {
				return notFound("user %s not found in cluster %s", username, name)
			}
			u := &c.Spec.Users[i]
			if req.PasswordType != nil {
				u.PasswordType = pgov1.PasswordType(*req.PasswordType)
			}
			switch {
			case req.ExpireUser:
				u.ValidUntil = &metav1.Time{Time: now.UTC().Truncate(time.Second)}
			case req.ValidDays != nil && *req.ValidDays <= 0:
				u.ValidUntil = nil
			case req.ValidDays != nil:
				u.ValidUntil = &metav1.Time{Time: now.Add(time.Duration(*req.ValidDays) * 24 * time.Hour).UTC().Truncate(time.Second)}
			}
			if req.Databases != nil {
				u.Databases = nil
				for _, d := range *req.Databases {
					u.Databases = append(u.Databases, pgov1.DatabaseName(d))
				}
			}
			if req.Options != nil {
				u.Options = *req.Options
			}
			return nil
		})
	} else {
		c, err = s.clusterOf(ctx, r)
		if err == nil && string(c.Spec.User) != username && findUser(c, username) < 0 {
			err = notFound("user %s not found in cluster %s", username, name)
		}
	}
	if err != nil {
		return nil, err
	}
	var out pgoapi.User
	database := specs.Database(c)
	if i := findUser(c, username); i >= 0 {
		out = userOf(c, c.Spec.Users[i], now)
		if len(c.Spec.Users[i].Databases) > 0 {
			database = string(c.Spec.Users[i].Databases[0])
		}
	} else {
		out = ownerOf(c)
	}
	if password != "" {
		if _, err := s.writeUserSecret(ctx, c, username, password, database, true); err != nil {
			return nil, err
		}
		out.Password = password
	}
	return pgoapi.UserResponse{User: out}, nil
}

func (s *Server) deleteUser(ctx context.Context, r *request) (any, error) {
	ns, name, username := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName), r.PathValue(pgoapi.ParamUser)
	_, err := s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
		if string(c.Spec.User) == username {
			return conflict("%s is the application user of cluster %s, which owns its database; it cannot be deleted", username, name)
		}
		i := findUser(c, username)
		if i < 0 {
			return notFound("user %s not found in cluster %s", username, name)
		}
		c.Spec.Users = slices.Delete(c.Spec.Users, i, i+1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pgoapi.DeleteUserResponse{Cluster: name, Name: username}, nil
}
