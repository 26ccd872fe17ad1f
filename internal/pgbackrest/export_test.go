package pgbackrest

// UpdateGolden tells the external tests (package pgbackrest_test) whether
// to rewrite testdata (-update).
func UpdateGolden() bool { return *update }

// Types are the types of backups, in order.
var Types = types
