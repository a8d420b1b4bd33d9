// The PostgreSQL schema as versioned migrations (S4): each runs once, in order, in one transaction, under an
// advisory lock so that two `ssrun migrate` at once do not both apply it. The tables mirror SQLite's (schema
// 5 there): text columns compare byte-wise (COLLATE "C"), and the names SQLite compares with NOCASE are
// unique and looked up by lower(), which in the C collation folds ASCII only, exactly as NOCASE does.

export const PG_SCHEMA_VERSION = 2;
/** The oldest schema this ssrun can run on (raised when a migration changes what older code relies on). */
export const PG_MIN_SCHEMA_VERSION = 1;
/** pg_advisory_xact_lock keys: migrations, and the store-wide lock of policy and group changes (one 64-bit key). */
export const MIGRATION_LOCK = 0x5353524e;
export const POLICY_LOCK = 0x53535250;
/** The first of the two 32-bit keys of a lockout subject's lock (the second: hashtext of the subject). */
export const THROTTLE_LOCK_SPACE = 0x5353;

export const PG_MIGRATIONS: string[] = [
  // 1: everything SQLite has at its schema 5 (the lockout in `throttle` by subject and address, attempts as
  //    leases; principals without SQLite's unused failed_count and locked_until columns).
  `CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);
   CREATE TABLE mfa_configs (
     id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT COLLATE "C" NOT NULL,
     type TEXT COLLATE "C" NOT NULL,
     options TEXT COLLATE "C" NOT NULL,
     secrets TEXT COLLATE "C" NOT NULL,
     created_at TEXT COLLATE "C" NOT NULL,
     updated_at TEXT COLLATE "C" NOT NULL
   );
   CREATE UNIQUE INDEX mfa_configs_name ON mfa_configs (lower(name));
   CREATE TABLE principals (
     id TEXT COLLATE "C" PRIMARY KEY,
     type TEXT COLLATE "C" NOT NULL CHECK (type IN ('user', 'application')),
     name TEXT COLLATE "C" NOT NULL,
     credential TEXT COLLATE "C",
     epoch INTEGER NOT NULL DEFAULT 0,
     created_at TEXT COLLATE "C" NOT NULL,
     updated_at TEXT COLLATE "C" NOT NULL,
     last_mfa_at TEXT COLLATE "C"
   );
   CREATE UNIQUE INDEX principals_name ON principals (type, lower(name));
   CREATE TABLE assignments (
     principal_id TEXT COLLATE "C" PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
     config_id TEXT COLLATE "C" NOT NULL REFERENCES mfa_configs(id) ON DELETE RESTRICT,
     provider_user_id TEXT COLLATE "C" NOT NULL,
     assigned_at TEXT COLLATE "C" NOT NULL,
     secret TEXT COLLATE "C",
     pending INTEGER NOT NULL DEFAULT 0,
     last_step BIGINT
   );
   CREATE INDEX assignments_by_config ON assignments (config_id);
   CREATE TABLE sessions (
     token_hash TEXT COLLATE "C" PRIMARY KEY,
     principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     epoch INTEGER NOT NULL,
     factor TEXT COLLATE "C" NOT NULL,
     created_at TEXT COLLATE "C" NOT NULL,
     expires_at TEXT COLLATE "C" NOT NULL
   );
   CREATE INDEX sessions_by_principal ON sessions (principal_id);
   CREATE INDEX sessions_by_expiry ON sessions (expires_at);
   CREATE TABLE audit (
     id BIGSERIAL PRIMARY KEY,
     at TEXT COLLATE "C" NOT NULL,
     principal TEXT COLLATE "C" NOT NULL,
     action TEXT COLLATE "C" NOT NULL,
     outcome TEXT COLLATE "C" NOT NULL,
     detail TEXT COLLATE "C" NOT NULL,
     actor TEXT COLLATE "C" NOT NULL DEFAULT '',
     source TEXT COLLATE "C" NOT NULL DEFAULT ''
   );
   CREATE INDEX audit_by_at ON audit (at);
   CREATE TABLE authorizations (
     principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     operation TEXT COLLATE "C" NOT NULL CHECK (operation IN ('create', 'read', 'update', 'delete')),
     effect TEXT COLLATE "C" NOT NULL CHECK (effect IN ('allow', 'deny')),
     resource TEXT COLLATE "C" NOT NULL,
     created_at TEXT COLLATE "C" NOT NULL
   );
   CREATE UNIQUE INDEX authorizations_key ON authorizations (principal_id, operation, lower(resource));
   CREATE TABLE recovery_codes (
     principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     digest TEXT COLLATE "C" NOT NULL,
     used_at TEXT COLLATE "C",
     created_at TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (principal_id, digest)
   );
   CREATE TABLE groups (
     id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT COLLATE "C" NOT NULL,
     created_at TEXT COLLATE "C" NOT NULL
   );
   CREATE UNIQUE INDEX groups_name ON groups (lower(name));
   CREATE TABLE group_members (
     group_id TEXT COLLATE "C" NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
     principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     added_at TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (group_id, principal_id)
   );
   CREATE INDEX group_members_by_principal ON group_members (principal_id);
   CREATE TABLE policies (
     id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT COLLATE "C" NOT NULL UNIQUE,
     factors TEXT COLLATE "C" NOT NULL,
     enroll_within_days INTEGER NOT NULL,
     reverify_after_hours INTEGER,
     active INTEGER NOT NULL,
     created_at TEXT COLLATE "C" NOT NULL,
     updated_at TEXT COLLATE "C" NOT NULL
   );
   CREATE TABLE policy_targets (
     policy_id TEXT COLLATE "C" NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
     position INTEGER NOT NULL,
     group_id TEXT COLLATE "C" REFERENCES groups(id) ON DELETE CASCADE,
     principal_id TEXT COLLATE "C" REFERENCES principals(id) ON DELETE CASCADE,
     CHECK ((group_id IS NULL) <> (principal_id IS NULL)),
     PRIMARY KEY (policy_id, position)
   );
   CREATE TABLE policy_subjects (
     principal_id TEXT COLLATE "C" PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
     first_applied_at TEXT COLLATE "C" NOT NULL
   );
   CREATE TABLE throttle (
     subject TEXT COLLATE "C" NOT NULL,
     address TEXT COLLATE "C" NOT NULL,
     failed_count INTEGER NOT NULL DEFAULT 0,
     locked_until TEXT COLLATE "C",
     last_failure_at TEXT COLLATE "C",
     last_success_at TEXT COLLATE "C",
     PRIMARY KEY (subject, address)
   );
   CREATE TABLE attempts (
     id TEXT COLLATE "C" PRIMARY KEY,
     subject TEXT COLLATE "C" NOT NULL,
     address TEXT COLLATE "C" NOT NULL,
     expires_at TEXT COLLATE "C" NOT NULL
   );
   CREATE INDEX attempts_by_subject ON attempts (subject, address);`,
  // 2: security keys (SQLite's schema 6).
  `CREATE TABLE factor_keys (
     id TEXT COLLATE "C" PRIMARY KEY,
     principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     name TEXT COLLATE "C" NOT NULL,
     public_key TEXT COLLATE "C" NOT NULL,
     counter BIGINT NOT NULL,
     transports TEXT COLLATE "C" NOT NULL,
     device_type TEXT COLLATE "C" NOT NULL,
     backed_up INTEGER NOT NULL,
     aaguid TEXT COLLATE "C" NOT NULL,
     rp_id TEXT COLLATE "C" NOT NULL,
     created_at TEXT COLLATE "C" NOT NULL,
     last_used_at TEXT COLLATE "C"
   );
   CREATE INDEX factor_keys_by_principal ON factor_keys (principal_id);`,
];

/** Which unique index a duplicate hit, as the error the core would have raised had it seen the row first. */
export const UNIQUE_CONFLICTS: Record<string, { code: 'CONFIG_EXISTS' | 'PRINCIPAL_EXISTS' | 'AUTHORIZATION_EXISTS' | 'GROUP_EXISTS' | 'POLICY_EXISTS' | 'MEMBER_EXISTS' | 'KEY_EXISTS'; what: string }> = {
  factor_keys_pkey: { code: 'KEY_EXISTS', what: 'this security key is registered already' },
  mfa_configs_name: { code: 'CONFIG_EXISTS', what: 'an MFA configuration of this name already exists (names are case-insensitive)' },
  principals_name: { code: 'PRINCIPAL_EXISTS', what: 'a principal of this name already exists' },
  authorizations_key: { code: 'AUTHORIZATION_EXISTS', what: 'this authorization already exists' },
  groups_name: { code: 'GROUP_EXISTS', what: 'a group of this name already exists (names are case-insensitive)' },
  policies_name_key: { code: 'POLICY_EXISTS', what: 'an MFA policy of this name already exists' },
  group_members_pkey: { code: 'MEMBER_EXISTS', what: 'the principal is already a member of the group' },
};
