// The SQLite schema as versioned migrations (S4): each runs once, in order, in one transaction.

export const SCHEMA_VERSION = 6;
export const APPLICATION_ID = 0x5353524e; // 'SSRN'

export const MIGRATIONS: string[] = [
  // 1: the first schema
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
   CREATE TABLE mfa_configs (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL COLLATE NOCASE UNIQUE,
     type TEXT NOT NULL,
     options TEXT NOT NULL,
     secrets TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE principals (
     id TEXT PRIMARY KEY,
     type TEXT NOT NULL CHECK (type IN ('user', 'application')),
     name TEXT NOT NULL COLLATE NOCASE,
     credential TEXT,
     epoch INTEGER NOT NULL DEFAULT 0,
     failed_count INTEGER NOT NULL DEFAULT 0,
     locked_until TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     UNIQUE (type, name)
   ) STRICT;
   CREATE TABLE assignments (
     principal_id TEXT PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
     config_id TEXT NOT NULL REFERENCES mfa_configs(id) ON DELETE RESTRICT,
     provider_user_id TEXT NOT NULL,
     assigned_at TEXT NOT NULL
   ) STRICT;
   CREATE INDEX assignments_by_config ON assignments(config_id);
   CREATE TABLE sessions (
     token_hash TEXT PRIMARY KEY,
     principal_id TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     epoch INTEGER NOT NULL,
     factor TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL
   ) STRICT;
   CREATE INDEX sessions_by_principal ON sessions(principal_id);
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     principal TEXT NOT NULL,
     action TEXT NOT NULL,
     outcome TEXT NOT NULL,
     detail TEXT NOT NULL
   ) STRICT;`,
  // 2: authorizations (server contexts), who and from where in the audit trail.
  `CREATE TABLE authorizations (
     principal_id TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     operation TEXT NOT NULL CHECK (operation IN ('create', 'read', 'update', 'delete')),
     effect TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
     resource TEXT NOT NULL COLLATE NOCASE,
     created_at TEXT NOT NULL,
     PRIMARY KEY (principal_id, operation, resource)
   ) STRICT;
   ALTER TABLE audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
   ALTER TABLE audit ADD COLUMN source TEXT NOT NULL DEFAULT '';
   CREATE INDEX audit_by_at ON audit(at);
   CREATE INDEX sessions_by_expiry ON sessions(expires_at);`,
  // 3: TOTP assignments (secret sealed, enrolment pending, last time step used) and recovery codes.
  `ALTER TABLE assignments ADD COLUMN secret TEXT;
   ALTER TABLE assignments ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE assignments ADD COLUMN last_step INTEGER;
   CREATE TABLE recovery_codes (
     principal_id TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     digest TEXT NOT NULL,
     used_at TEXT,
     created_at TEXT NOT NULL,
     PRIMARY KEY (principal_id, digest)
   ) STRICT;`,
  // 4: groups, MFA policies and their targets, when policies first applied to a principal, last MFA.
  `CREATE TABLE groups (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL COLLATE NOCASE UNIQUE,
     created_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE group_members (
     group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
     principal_id TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     added_at TEXT NOT NULL,
     PRIMARY KEY (group_id, principal_id)
   ) STRICT;
   CREATE INDEX group_members_by_principal ON group_members(principal_id);
   CREATE TABLE policies (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     factors TEXT NOT NULL,
     enroll_within_days INTEGER NOT NULL,
     reverify_after_hours INTEGER,
     active INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE policy_targets (
     policy_id TEXT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
     position INTEGER NOT NULL,
     group_id TEXT REFERENCES groups(id) ON DELETE CASCADE,
     principal_id TEXT REFERENCES principals(id) ON DELETE CASCADE,
     CHECK ((group_id IS NULL) <> (principal_id IS NULL)),
     PRIMARY KEY (policy_id, position)
   ) STRICT;
   CREATE TABLE policy_subjects (
     principal_id TEXT PRIMARY KEY REFERENCES principals(id) ON DELETE CASCADE,
     first_applied_at TEXT NOT NULL
   ) STRICT;
   ALTER TABLE principals ADD COLUMN last_mfa_at TEXT;`,
  // 5: the lockout per (principal, client address) and per principal, for known and unknown names alike; login
  //    attempts in flight as leases (S12, S26). Counters kept by principals before move to every address ('*').
  `CREATE TABLE throttle (
     subject TEXT NOT NULL,
     address TEXT NOT NULL,
     failed_count INTEGER NOT NULL DEFAULT 0,
     locked_until TEXT,
     last_failure_at TEXT,
     last_success_at TEXT,
     PRIMARY KEY (subject, address)
   ) STRICT;
   CREATE TABLE attempts (
     id TEXT PRIMARY KEY,
     subject TEXT NOT NULL,
     address TEXT NOT NULL,
     expires_at TEXT NOT NULL
   ) STRICT;
   CREATE INDEX attempts_by_subject ON attempts(subject, address);
   INSERT INTO throttle (subject, address, failed_count, locked_until)
     SELECT lower('principal/internal/' || type || '/' || name), '*', failed_count, locked_until FROM principals
     WHERE failed_count > 0 OR locked_until IS NOT NULL;`,
  // 6: security keys (WebAuthn credentials), any number per principal; nothing in a row is a secret.
  `CREATE TABLE factor_keys (
     id TEXT PRIMARY KEY,
     principal_id TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     public_key TEXT NOT NULL,
     counter INTEGER NOT NULL,
     transports TEXT NOT NULL,
     device_type TEXT NOT NULL,
     backed_up INTEGER NOT NULL,
     aaguid TEXT NOT NULL,
     rp_id TEXT NOT NULL,
     created_at TEXT NOT NULL,
     last_used_at TEXT
   ) STRICT;
   CREATE INDEX factor_keys_by_principal ON factor_keys(principal_id);`,
];
